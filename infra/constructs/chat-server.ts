// The chat servers of one region: Fargate tasks behind an internal Application Load
// Balancer that WSS tasks of the region and chat servers of other regions call over TLS.
import { Construct } from "constructs";

import { Lb, LbListener, LbTargetGroup, SecurityGroup } from "../aws.ts";

import { PORTS } from "../names.ts";
import type { ServiceGroup } from "./app-platform.ts";
import { FargateService } from "./fargate-service.ts";
import type { ServiceSettings } from "./load-balanced-service.ts";
import { allowCidrs, TLS_POLICY } from "./load-balanced-service.ts";
import { allowGroupToGroup } from "./security.ts";

export interface ChatServerServiceProps extends ServiceSettings {
  readonly vpcId: string;
  /** Private subnets of the load balancer and the tasks. */
  readonly privateSubnetIds: readonly string[];
  /** Security group of the CS tasks. */
  readonly taskGroup: ServiceGroup;
  /** Groups of this region allowed to call the API (the WSS tasks). */
  readonly callerGroups: readonly ServiceGroup[];
  /** VPC CIDRs of the other regions, whose chat servers call `/internal/v1/messages`. */
  readonly peerCidrs: readonly string[];
  /** ACM certificate covering `<region>.cs.<domain>`. */
  readonly certificateArn: string;
  /**
   * Seconds a deregistered task keeps serving in-flight requests.
   * @default 30
   */
  readonly drainSeconds?: number;
  /**
   * Path of the health check.
   * @default "/healthz"
   */
  readonly healthCheckPath?: string;
}

const DEFAULTS = Object.freeze({ drainSeconds: 30, healthCheckPath: "/healthz" });

/** CS tasks behind an internal HTTPS load balancer. */
export class ChatServerService extends Construct {
  readonly loadBalancerDnsName: string;
  readonly loadBalancerZoneId: string;
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: ChatServerServiceProps) {
    super(scope, id);

    const name = `chat-${props.regionId}-cs`;
    const lbGroup = new SecurityGroup(this, "lb-sg", {
      name: `${name}-alb`,
      description: "Chat CS load balancer: HTTPS from WSS and peer regions, to CS tasks",
      vpcId: props.vpcId,
      tags: { Name: `${name}-alb` },
    });
    for (const caller of props.callerGroups) {
      allowGroupToGroup(this, `from-${caller.name}`, {
        fromGroupId: caller.id,
        toGroupId: lbGroup.id,
        port: 443,
        description: `Chat server API from ${caller.name}`,
      });
    }
    allowCidrs(
      this,
      "peers",
      lbGroup.id,
      props.peerCidrs,
      443,
      "Chat servers of other regions",
    );
    allowGroupToGroup(this, "lb-to-tasks", {
      fromGroupId: lbGroup.id,
      toGroupId: props.taskGroup.id,
      port: PORTS.chatServer,
      description: "CS load balancer to CS tasks (traffic and health checks)",
    });

    const alb = new Lb(this, "alb", {
      name,
      loadBalancerType: "application",
      internal: true,
      subnets: [...props.privateSubnetIds],
      securityGroups: [lbGroup.id],
      dropInvalidHeaderFields: true,
      idleTimeout: 60,
      tags: { Name: name },
    });
    const targets = new LbTargetGroup(this, "targets", {
      name,
      port: PORTS.chatServer,
      protocol: "HTTP",
      targetType: "ip",
      vpcId: props.vpcId,
      deregistrationDelay: String(props.drainSeconds ?? DEFAULTS.drainSeconds),
      healthCheck: {
        protocol: "HTTP",
        path: props.healthCheckPath ?? DEFAULTS.healthCheckPath,
        port: "traffic-port",
        matcher: "200",
        interval: 10,
        timeout: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
      },
      tags: { Name: name },
    });
    const listener = new LbListener(this, "https", {
      loadBalancerArn: alb.arn,
      port: 443,
      protocol: "HTTPS",
      certificateArn: props.certificateArn,
      sslPolicy: TLS_POLICY,
      defaultAction: [{ type: "forward", targetGroupArn: targets.arn }],
    });

    const service = new FargateService(this, "service", {
      ...props,
      name: "cs",
      port: PORTS.chatServer,
      subnetIds: props.privateSubnetIds,
      securityGroupId: props.taskGroup.id,
      targetGroupArn: targets.arn,
      dependsOn: [listener],
    });

    this.loadBalancerDnsName = alb.dnsName;
    this.loadBalancerZoneId = alb.zoneId;
    this.serviceName = service.serviceName;
  }
}
