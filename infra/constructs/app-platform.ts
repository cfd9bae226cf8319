// What both application services share in a region: the ECS cluster and one security
// group per service. The groups exist before Redis and ZooKeeper so that those can
// admit exactly them, and before the services that run in them.
import { Construct } from "constructs";

import {
  EcsCluster,
  EcsClusterCapacityProviders,
  SecurityGroup,
  VpcSecurityGroupEgressRule,
} from "../aws.ts";

export interface AppPlatformProps {
  /** Chat region id, used in names. */
  readonly regionId: string;
  /** VPC the services run in. */
  readonly vpcId: string;
  /**
   * Turn on CloudWatch Container Insights (per-task metrics; billed per metric).
   * @default true
   */
  readonly containerInsights?: boolean;
}

const DEFAULTS = Object.freeze({ containerInsights: true });

/** A security group and its id, handed to constructs that must admit it. */
export interface ServiceGroup {
  readonly id: string;
  readonly name: string;
}

/** The ECS cluster of a region and the security groups of the WSS and CS tasks. */
export class AppPlatform extends Construct {
  readonly clusterArn: string;
  readonly clusterName: string;
  /** Security group of the WebSocket server tasks. */
  readonly wssGroup: ServiceGroup;
  /** Security group of the chat server tasks. */
  readonly csGroup: ServiceGroup;

  constructor(scope: Construct, id: string, props: AppPlatformProps) {
    super(scope, id);

    const name = `chat-${props.regionId}`;
    const cluster = new EcsCluster(this, "cluster", {
      name,
      setting: [
        {
          name: "containerInsights",
          value:
            (props.containerInsights ?? DEFAULTS.containerInsights)
              ? "enabled"
              : "disabled",
        },
      ],
    });
    new EcsClusterCapacityProviders(this, "capacity", {
      clusterName: cluster.name,
      capacityProviders: ["FARGATE"],
      defaultCapacityProviderStrategy: [
        { capacityProvider: "FARGATE", weight: 1, base: 0 },
      ],
    });

    this.clusterArn = cluster.arn;
    this.clusterName = cluster.name;
    this.wssGroup = this.serviceGroup(
      `${name}-wss`,
      props.vpcId,
      "Chat WebSocket server (WSS) tasks",
    );
    this.csGroup = this.serviceGroup(`${name}-cs`, props.vpcId, "Chat server (CS) tasks");
  }

  /**
   * A task security group. Outbound it only allows HTTPS (AWS APIs, ECR, the chat
   * server load balancers of this and other regions); Redis and ZooKeeper add their
   * own port when they admit the group.
   */
  private serviceGroup(name: string, vpcId: string, description: string): ServiceGroup {
    const group = new SecurityGroup(this, name, {
      name,
      description,
      vpcId,
      tags: { Name: name },
    });
    new VpcSecurityGroupEgressRule(this, `${name}-https-out`, {
      securityGroupId: group.id,
      description: "HTTPS to AWS APIs, ECR and chat server load balancers",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: "0.0.0.0/0",
    });
    return { id: group.id, name };
  }
}
