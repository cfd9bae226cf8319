// What every stack sets up the same way: its state backend and its provider tags.
import { S3Backend } from "cdktf";
import type { TerraformStack } from "cdktf";

import type { DeploySettings } from "../settings.ts";

/**
 * Gives the stack its own state: with a state bucket configured, the S3 object
 * `<keyPrefix>/<stack>.tfstate` and a lock of its own (a DynamoDB lock table when one
 * is configured, else the S3 lock file next to the state); otherwise cdktf's local
 * backend (`terraform.<stack>.tfstate` in the working directory).
 */
export function configureBackend(
  stack: TerraformStack,
  stackName: string,
  settings: DeploySettings,
): void {
  const state = settings.state;
  if (!state) return;

  const backend = new S3Backend(stack, {
    bucket: state.bucket,
    key: `${state.keyPrefix}/${stackName}.tfstate`,
    region: state.region,
    encrypt: true,
    ...(state.lockTable ? { dynamodbTable: state.lockTable } : {}),
  });
  // cdktf 0.21 predates `use_lockfile` (Terraform 1.10+); add it to the raw block.
  if (!state.lockTable) backend.addOverride("use_lockfile", true);
}

/** Tags every resource of a stack carries (the provider's `default_tags`). */
export function defaultTags(
  stackName: string,
  extra: Readonly<Record<string, string>> = {},
): { tags: Record<string, string> }[] {
  return [{ tags: { Project: "chat", Stack: stackName, ManagedBy: "cdktf", ...extra } }];
}
