// The AWS providers of a stack that spans regions: one per AWS region, the primary one
// being the stack's default provider.
import type { AwsProvider } from "../aws.ts";

/** An AWS region and the provider that deploys into it. */
export interface RegionalProvider {
  readonly awsRegion: string;
  readonly provider: AwsProvider;
}
