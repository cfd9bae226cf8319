// Security group rules between two groups, written as a pair: the target admits the
// source on a port, and the source may send to the target on that port. Every rule is
// its own resource (no inline rules), so rules added by different constructs never
// fight over one group's rule list.
import type { Construct } from "constructs";

import { VpcSecurityGroupEgressRule, VpcSecurityGroupIngressRule } from "../aws.ts";

/** One TCP port (or range) opened from one security group to another. */
export interface GroupToGroupRule {
  /** Security group that opens the connection. */
  readonly fromGroupId: string;
  /** Security group that accepts it. */
  readonly toGroupId: string;
  readonly port: number;
  /** @default port */
  readonly toPort?: number;
  /** Shown on both rules. */
  readonly description: string;
}

/** Adds the ingress rule on the target group and the egress rule on the source group. */
export function allowGroupToGroup(
  scope: Construct,
  id: string,
  rule: GroupToGroupRule,
): void {
  const toPort = rule.toPort ?? rule.port;
  new VpcSecurityGroupIngressRule(scope, `${id}-in`, {
    securityGroupId: rule.toGroupId,
    referencedSecurityGroupId: rule.fromGroupId,
    ipProtocol: "tcp",
    fromPort: rule.port,
    toPort,
    description: rule.description,
  });
  new VpcSecurityGroupEgressRule(scope, `${id}-out`, {
    securityGroupId: rule.fromGroupId,
    referencedSecurityGroupId: rule.toGroupId,
    ipProtocol: "tcp",
    fromPort: rule.port,
    toPort,
    description: rule.description,
  });
}
