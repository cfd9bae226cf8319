// The ECR repositories of the application images, one copy per AWS region, so every
// region pulls from its own region and keeps running when another region is down.
import { Construct } from "constructs";

import { EcrLifecyclePolicy, EcrRepository } from "../aws.ts";

import type { RegionalProvider } from "./regional-providers.ts";

export interface ImageRepositoriesProps {
  /** Every AWS region of the deployment. */
  readonly regions: readonly RegionalProvider[];
  /** Repository names, e.g. `chat/wss`. */
  readonly names: readonly string[];
  /**
   * Tagged images kept per repository; older ones expire.
   * @default 50
   */
  readonly keepTaggedImages?: number;
}

const DEFAULTS = Object.freeze({ keepTaggedImages: 50 });

/** Immutable-tag, scan-on-push, KMS-encrypted ECR repositories in every region. */
export class ImageRepositories extends Construct {
  constructor(scope: Construct, id: string, props: ImageRepositoriesProps) {
    super(scope, id);

    const lifecycle = JSON.stringify({
      rules: [
        {
          rulePriority: 1,
          description: "Drop untagged layers after a week",
          selection: {
            tagStatus: "untagged",
            countType: "sinceImagePushed",
            countUnit: "days",
            countNumber: 7,
          },
          action: { type: "expire" },
        },
        {
          rulePriority: 2,
          description: "Keep the most recent tagged images",
          selection: {
            tagStatus: "any",
            countType: "imageCountMoreThan",
            countNumber: props.keepTaggedImages ?? DEFAULTS.keepTaggedImages,
          },
          action: { type: "expire" },
        },
      ],
    });

    for (const { awsRegion, provider } of props.regions) {
      for (const name of props.names) {
        const slug = `${name.replace(/\//g, "-")}-${awsRegion}`;
        // Tags are immutable: a deployed tag always means the same image, so a rollback
        // to an older tag really runs the older code.
        const repository = new EcrRepository(this, slug, {
          provider,
          name,
          imageTagMutability: "IMMUTABLE",
          imageScanningConfiguration: { scanOnPush: true },
          encryptionConfiguration: [{ encryptionType: "KMS" }],
        });
        new EcrLifecyclePolicy(this, `${slug}-lifecycle`, {
          provider,
          repository: repository.name,
          policy: lifecycle,
        });
      }
    }
  }
}
