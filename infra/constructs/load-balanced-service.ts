// What the WSS fleet and the chat server share: the settings of their Fargate service
// that come from the stack, and the CIDR ingress rule helper for their load balancers.
import type { Construct } from "constructs";

import { VpcSecurityGroupIngressRule } from "../aws.ts";

import type { FargateServiceProps } from "./fargate-service.ts";

/** Service settings a load-balanced app passes through to its FargateService. */
export type ServiceSettings = Pick<
  FargateServiceProps,
  | "regionId"
  | "awsRegion"
  | "clusterArn"
  | "clusterName"
  | "image"
  | "cpu"
  | "memoryMiB"
  | "minTasks"
  | "maxTasks"
  | "environment"
  | "secrets"
  | "secretKeyArns"
  | "tableArns"
>;

/** TLS policy of every listener: TLS 1.3 and 1.2 with forward-secret ciphers only. */
export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/** Admits each CIDR on one TCP port of a load balancer's security group. */
export function allowCidrs(
  scope: Construct,
  id: string,
  groupId: string,
  cidrs: readonly string[],
  port: number,
  description: string,
): void {
  cidrs.forEach((cidr, i) => {
    new VpcSecurityGroupIngressRule(scope, `${id}-${i}`, {
      securityGroupId: groupId,
      cidrIpv4: cidr,
      ipProtocol: "tcp",
      fromPort: port,
      toPort: port,
      description: `${description} (${cidr})`,
    });
  });
}
