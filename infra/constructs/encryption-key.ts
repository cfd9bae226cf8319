// A customer-managed KMS key with rotation and an alias.
import type { TerraformProvider } from "cdktf";
import { Construct } from "constructs";

import { KmsAlias, KmsKey } from "../aws.ts";

export interface EncryptionKeyProps {
  /** Alias without the `alias/` prefix, e.g. `chat-usa`. */
  readonly alias: string;
  /** What the key protects; shown in the KMS console. */
  readonly description: string;
  /**
   * Provider (AWS region) to create the key with.
   * @default the stack's default AWS provider
   */
  readonly provider?: TerraformProvider;
  /**
   * Days KMS waits before deleting the key after it is scheduled for deletion.
   * @default 30
   */
  readonly deletionWindowDays?: number;
}

const DEFAULTS = Object.freeze({ deletionWindowDays: 30 });

/**
 * A symmetric KMS key with yearly automatic rotation. Its policy is the KMS default
 * (the account administers it; IAM policies grant use), so each role that needs it says
 * so in its own policy.
 */
export class EncryptionKey extends Construct {
  /** ARN of the key. */
  readonly arn: string;
  /** Key id. */
  readonly keyId: string;

  constructor(scope: Construct, id: string, props: EncryptionKeyProps) {
    super(scope, id);

    const key = new KmsKey(this, "key", {
      provider: props.provider,
      description: props.description,
      enableKeyRotation: true,
      deletionWindowInDays: props.deletionWindowDays ?? DEFAULTS.deletionWindowDays,
      tags: { Name: props.alias },
    });
    new KmsAlias(this, "alias", {
      provider: props.provider,
      name: `alias/${props.alias}`,
      targetKeyId: key.keyId,
    });
    this.arn = key.arn;
    this.keyId = key.keyId;
  }
}
