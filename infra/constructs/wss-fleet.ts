// The WebSocket servers of one region: Fargate tasks behind a public Network Load
// Balancer that terminates TLS, with a long deregistration delay so a task being
// replaced keeps its sockets while clients move away.
import { Construct } from "constructs";

import { Lb, LbListener, LbTargetGroup, SecurityGroup } from "../aws.ts";

import { PORTS } from "../names.ts";
import type { ServiceGroup } from "./app-platform.ts";
import { FargateService } from "./fargate-service.ts";
import type { ServiceSettings } from "./load-balanced-service.ts";
import { allowCidrs, TLS_POLICY } from "./load-balanced-service.ts";
import { allowGroupToGroup } from "./security.ts";

export interface WssFleetProps extends ServiceSettings {
  readonly vpcId: string;
  /** Public subnets the load balancer lives in, one per AZ. */
  readonly publicSubnetIds: readonly string[];
  /** Private subnets the tasks run in. */
  readonly privateSubnetIds: readonly string[];
  /** Security group of the WSS tasks. */
  readonly taskGroup: ServiceGroup;
  /** ACM certificate covering `ws.<domain>` and `<region>.ws.<domain>`. */
  readonly certificateArn: string;
  /** CIDRs allowed to connect (the public internet for a public chat service). */
  readonly clientCidrs: readonly string[];
  /**
   * Seconds a deregistered task keeps its connections before the load balancer closes
   * them. ECS sends SIGTERM only after this, so clients get this long to move.
   * @default 300
   */
  readonly drainSeconds?: number;
  /**
   * Path of the health check.
   * @default "/healthz"
   */
  readonly healthCheckPath?: string;
}

const DEFAULTS = Object.freeze({ drainSeconds: 300, healthCheckPath: "/healthz" });

/** WSS tasks behind an internet-facing NLB with a TLS listener on 443. */
export class WssFleet extends Construct {
  readonly loadBalancerDnsName: string;
  readonly loadBalancerZoneId: string;
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: WssFleetProps) {
    super(scope, id);

    const name = `chat-${props.regionId}-wss`;
    const lbGroup = new SecurityGroup(this, "lb-sg", {
      name: `${name}-nlb`,
      description: "Chat WSS load balancer: TLS from clients, to WSS tasks",
      vpcId: props.vpcId,
      tags: { Name: `${name}-nlb` },
    });
    allowCidrs(this, "clients", lbGroup.id, props.clientCidrs, 443, "WebSocket clients");
    allowGroupToGroup(this, "lb-to-tasks", {
      fromGroupId: lbGroup.id,
      toGroupId: props.taskGroup.id,
      port: PORTS.wss,
      description: "WSS load balancer to WSS tasks (traffic and health checks)",
    });

    const nlb = new Lb(this, "nlb", {
      name,
      loadBalancerType: "network",
      internal: false,
      subnets: [...props.publicSubnetIds],
      securityGroups: [lbGroup.id],
      enableCrossZoneLoadBalancing: true,
      ipAddressType: "ipv4",
      tags: { Name: name },
    });
    const targets = new LbTargetGroup(this, "targets", {
      name,
      port: PORTS.wss,
      protocol: "TCP",
      targetType: "ip",
      vpcId: props.vpcId,
      deregistrationDelay: String(props.drainSeconds ?? DEFAULTS.drainSeconds),
      // Close what is left at the end of the delay instead of leaving it half-routed.
      connectionTermination: true,
      healthCheck: {
        protocol: "HTTP",
        path: props.healthCheckPath ?? DEFAULTS.healthCheckPath,
        port: "traffic-port",
        matcher: "200",
        interval: 10,
        timeout: 5,
        healthyThreshold: 3,
        unhealthyThreshold: 2,
      },
      tags: { Name: name },
    });
    const listener = new LbListener(this, "tls", {
      loadBalancerArn: nlb.arn,
      port: 443,
      protocol: "TLS",
      certificateArn: props.certificateArn,
      sslPolicy: TLS_POLICY,
      defaultAction: [{ type: "forward", targetGroupArn: targets.arn }],
    });

    const service = new FargateService(this, "service", {
      ...props,
      name: "wss",
      port: PORTS.wss,
      subnetIds: props.privateSubnetIds,
      securityGroupId: props.taskGroup.id,
      targetGroupArn: targets.arn,
      dependsOn: [listener],
      // Scaling in closes sockets; do it slowly.
      scaleInCooldownSeconds: 600,
    });

    this.loadBalancerDnsName = nlb.dnsName;
    this.loadBalancerZoneId = nlb.zoneId;
    this.serviceName = service.serviceName;
  }
}
