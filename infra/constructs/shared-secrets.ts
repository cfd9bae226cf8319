// Secrets every region must agree on (the JWT key and the CS-to-CS secret), created
// once and replicated by Secrets Manager into every AWS region of the deployment.
import { Construct } from "constructs";

import {
  DataAwsSecretsmanagerRandomPassword,
  SecretsmanagerSecret,
  SecretsmanagerSecretVersion,
} from "../aws.ts";

import type { RegionalProvider } from "./regional-providers.ts";

export interface SharedSecretsProps {
  /** Where the secrets are created. */
  readonly primary: RegionalProvider;
  /** AWS regions that get a read replica of every secret. */
  readonly replicaRegions: readonly string[];
  /** Secret names with a description each, e.g. `chat/jwt-secret`. */
  readonly secrets: Readonly<Record<string, string>>;
  /**
   * Length of the generated initial values.
   * @default 64
   */
  readonly length?: number;
}

const DEFAULTS = Object.freeze({ length: 64 });

/**
 * Replicated secrets with a generated first value. Terraform never changes a value
 * after that (operators rotate them, or put their identity provider's JWT key).
 */
export class SharedSecrets extends Construct {
  constructor(scope: Construct, id: string, props: SharedSecretsProps) {
    super(scope, id);

    const provider = props.primary.provider;
    for (const [name, description] of Object.entries(props.secrets)) {
      const slug = name.replace(/[^A-Za-z0-9]+/g, "-");
      const secret = new SecretsmanagerSecret(this, slug, {
        provider,
        name,
        description,
        recoveryWindowInDays: 30,
        replica: props.replicaRegions.map((region) => ({ region })),
      });
      const generated = new DataAwsSecretsmanagerRandomPassword(
        this,
        `${slug}-generator`,
        {
          provider,
          passwordLength: props.length ?? DEFAULTS.length,
          excludePunctuation: true,
        },
      );
      new SecretsmanagerSecretVersion(this, `${slug}-value`, {
        provider,
        secretId: secret.id,
        secretString: generated.randomPassword,
        lifecycle: { ignoreChanges: ["secret_string"] },
      });
    }
  }
}
