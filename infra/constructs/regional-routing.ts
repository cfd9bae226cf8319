// One region's share of global routing: its latency record for the public WebSocket
// name, guarded by a health check, plus the region's own names. Every region stack
// adds its own records, so a new region file brings its routing with it and a region
// that is not deployed is never routed to.
import { Construct } from "constructs";

import { Route53HealthCheck, Route53Record } from "../aws.ts";

import { csHost, regionalWsHost, wsHost } from "../names.ts";

/** A load balancer a record can alias. */
export interface AliasTarget {
  readonly dnsName: string;
  readonly zoneId: string;
}

export interface RegionalRoutingProps {
  readonly regionId: string;
  /** AWS region, used as the latency region of the record. */
  readonly awsRegion: string;
  /** The deployment's domain; the hosted zone of that name holds the records. */
  readonly domain: string;
  /** Id of the public hosted zone of `domain`. */
  readonly zoneId: string;
  /** The region's WSS load balancer. */
  readonly wss: AliasTarget;
  /** The region's internal chat server load balancer. */
  readonly chatServer: AliasTarget;
  /**
   * Path Route 53 probes over HTTPS on the region's WSS name.
   * @default "/healthz"
   */
  readonly healthCheckPath?: string;
  /**
   * Seconds between probes from each checker: 10 (faster failover, billed extra) or 30.
   * @default 10
   */
  readonly healthCheckIntervalSeconds?: 10 | 30;
  /**
   * Consecutive failed probes before the region is considered down.
   * @default 3
   */
  readonly failureThreshold?: number;
}

const DEFAULTS = Object.freeze({
  healthCheckPath: "/healthz",
  healthCheckIntervalSeconds: 10,
  failureThreshold: 3,
});

/** Route 53 records and the health check of one region. */
export class RegionalRouting extends Construct {
  readonly healthCheckId: string;

  constructor(scope: Construct, id: string, props: RegionalRoutingProps) {
    super(scope, id);

    const regional = regionalWsHost(props.regionId, props.domain);
    new Route53Record(this, "regional-wss", {
      zoneId: props.zoneId,
      name: regional,
      type: "A",
      alias: {
        name: props.wss.dnsName,
        zoneId: props.wss.zoneId,
        evaluateTargetHealth: true,
      },
    });

    const health = new Route53HealthCheck(this, "health", {
      type: "HTTPS",
      fqdn: regional,
      port: 443,
      enableSni: true,
      resourcePath: props.healthCheckPath ?? DEFAULTS.healthCheckPath,
      requestInterval:
        props.healthCheckIntervalSeconds ?? DEFAULTS.healthCheckIntervalSeconds,
      failureThreshold: props.failureThreshold ?? DEFAULTS.failureThreshold,
      tags: { Name: `chat-${props.regionId}-wss` },
    });

    // Clients resolve ws.<domain> to the lowest-latency healthy region; when this
    // region's check fails, Route 53 answers with the next one.
    new Route53Record(this, "latency-wss", {
      zoneId: props.zoneId,
      name: wsHost(props.domain),
      type: "A",
      setIdentifier: props.regionId,
      latencyRoutingPolicy: { region: props.awsRegion },
      healthCheckId: health.id,
      alias: {
        name: props.wss.dnsName,
        zoneId: props.wss.zoneId,
        evaluateTargetHealth: true,
      },
    });

    // The internal load balancer's name resolves to private addresses; other regions
    // reach them over the transit gateway backbone.
    new Route53Record(this, "regional-cs", {
      zoneId: props.zoneId,
      name: csHost(props.regionId, props.domain),
      type: "A",
      alias: {
        name: props.chatServer.dnsName,
        zoneId: props.chatServer.zoneId,
        evaluateTargetHealth: true,
      },
    });

    this.healthCheckId = health.id;
  }
}
