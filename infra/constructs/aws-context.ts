// Small shared helpers for constructs: the account of the stack a construct lives in
// (one data source per stack and provider), the partition, and IAM JSON.
import type { TerraformProvider } from "cdktf";
import { TerraformStack } from "cdktf";
import type { Construct } from "constructs";

import { DataAwsCallerIdentity } from "../aws.ts";

/** The account id and partition of the provider a construct deploys with. */
export interface AwsAccount {
  readonly accountId: string;
  readonly partition: string;
}

/** One IAM policy statement, in the JSON shape IAM expects. */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly Principal?: Record<string, string | readonly string[]>;
  readonly Condition?: Record<string, Record<string, string | readonly string[]>>;
}

/**
 * The partition of every ARN the stacks build. Every AWS region a region file may name
 * (regions/schema.ts) is in the commercial partition; a data source would only add a
 * lookup to each plan.
 */
export const PARTITION = "aws";

/** The account of `scope`'s stack, looked up once per stack (and per provider). */
export function awsAccount(scope: Construct, provider?: TerraformProvider): AwsAccount {
  const stack = TerraformStack.of(scope);
  const suffix = provider ? `-${provider.node.id}` : "";
  const id = `aws-account${suffix}`;
  const identity =
    (stack.node.tryFindChild(id) as DataAwsCallerIdentity | undefined) ??
    new DataAwsCallerIdentity(stack, id, { provider });
  return { accountId: identity.accountId, partition: PARTITION };
}

/** An IAM policy document as a JSON string (tokens inside are resolved by cdktf). */
export function policyJson(statements: readonly PolicyStatement[]): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/** A trust policy letting one AWS service assume a role. */
export function assumeRolePolicy(
  service: string,
  conditions?: PolicyStatement["Condition"],
) {
  return policyJson([
    {
      Effect: "Allow",
      Action: "sts:AssumeRole",
      Principal: { Service: service },
      ...(conditions ? { Condition: conditions } : {}),
    },
  ]);
}
