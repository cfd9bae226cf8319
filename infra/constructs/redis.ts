// The Redis of one region: pub/sub for live delivery and the Redis Stream that carries
// client acknowledgements to the chat servers. ElastiCache, Multi-AZ with automatic
// failover, TLS in transit, KMS at rest, an AUTH token kept in Secrets Manager.
import { Construct } from "constructs";

import {
  CloudwatchLogGroup,
  DataAwsSecretsmanagerRandomPassword,
  ElasticacheParameterGroup,
  ElasticacheReplicationGroup,
  ElasticacheSubnetGroup,
  SecretsmanagerSecret,
  SecretsmanagerSecretVersion,
  SecurityGroup,
} from "../aws.ts";

import { PORTS } from "../names.ts";
import type { ServiceGroup } from "./app-platform.ts";
import { allowGroupToGroup } from "./security.ts";

const MiB = 1024 * 1024;

/** Output-buffer limits of pub/sub clients (Redis `client-output-buffer-limit pubsub`). */
export interface PubsubBufferLimits {
  /** A subscriber whose pending output exceeds this is disconnected at once. */
  readonly hardBytes: number;
  /** A subscriber above this for `softSeconds` is disconnected. */
  readonly softBytes: number;
  readonly softSeconds: number;
}

export interface RedisProps {
  /** Chat region id, used in names. */
  readonly regionId: string;
  /** VPC of the region. */
  readonly vpcId: string;
  /** Private subnets, one per AZ. */
  readonly subnetIds: readonly string[];
  /** AZ names in the order of `subnetIds`; nodes are spread over them in turn. */
  readonly azNames: readonly string[];
  /** The only security groups admitted on the Redis port (WSS and CS tasks). */
  readonly clientGroups: readonly ServiceGroup[];
  /** ElastiCache node type, e.g. `cache.r7g.large`. */
  readonly nodeType: string;
  /** Replicas of each shard (at least 1: Multi-AZ needs one). */
  readonly replicasPerShard: number;
  /** Cluster mode (sharded pub/sub) instead of one primary with replicas. */
  readonly clusterMode: boolean;
  /** Shards in cluster mode; must be 1 otherwise. */
  readonly shards: number;
  /** KMS key for data at rest and for the AUTH token secret. */
  readonly kmsKeyArn: string;
  /**
   * Redis engine version (7.x; the parameter group family is `redis7`).
   * @default "7.1"
   */
  readonly engineVersion?: string;
  /**
   * Pub/sub client output-buffer limits.
   * @default { hardBytes: 128 MiB, softBytes: 64 MiB, softSeconds: 30 }
   */
  readonly pubsubBufferLimits?: PubsubBufferLimits;
  /**
   * Days of daily snapshots kept.
   * @default 7
   */
  readonly snapshotRetentionDays?: number;
  /**
   * Weekly maintenance window (UTC).
   * @default "sun:05:00-sun:06:00"
   */
  readonly maintenanceWindow?: string;
}

const DEFAULTS = Object.freeze({
  engineVersion: "7.1",
  // A WSS task holds ONE subscriber connection that carries the topics of every user
  // connected to it, so a group message fanned out to thousands of members on that task
  // lands on one connection within milliseconds. Redis's defaults for pub/sub clients
  // (32 MiB hard, 8 MiB for 60 s soft) would disconnect that subscriber during such a
  // burst or a long GC pause, dropping live delivery for every user on the task at once
  // and making them all replay their inboxes together. These limits absorb bursts and
  // pauses; they still cut off a subscriber that stays 64 MiB behind for 30 s (it is
  // stuck, and Redis memory must stay bounded: maxTasks x 128 MiB at worst).
  pubsubBufferLimits: Object.freeze({
    hardBytes: 128 * MiB,
    softBytes: 64 * MiB,
    softSeconds: 30,
  }),
  snapshotRetentionDays: 7,
  maintenanceWindow: "sun:05:00-sun:06:00",
});

/** An ElastiCache (Redis 7) replication group reachable only from the app tasks. */
export class Redis extends Construct {
  /** `rediss://<endpoint>:6379`; the password is in `authSecretArn`, not in the URL. */
  readonly url: string;
  /** ARN of the secret holding the AUTH token. */
  readonly authSecretArn: string;
  /** Security group of the Redis nodes. */
  readonly securityGroupId: string;
  /** Whether clients must use the cluster protocol. */
  readonly clusterMode: boolean;

  constructor(scope: Construct, id: string, props: RedisProps) {
    super(scope, id);

    const name = `chat-${props.regionId}`;
    const limits = props.pubsubBufferLimits ?? DEFAULTS.pubsubBufferLimits;
    if (!props.clusterMode && props.shards !== 1) {
      throw new Error(
        `redis of region "${props.regionId}": shards must be 1 without clusterMode`,
      );
    }

    const group = new SecurityGroup(this, "sg", {
      name: `${name}-redis`,
      description: "Chat Redis: admits only the WSS and CS task groups",
      vpcId: props.vpcId,
      tags: { Name: `${name}-redis` },
    });
    for (const client of props.clientGroups) {
      allowGroupToGroup(this, `from-${client.name}`, {
        fromGroupId: client.id,
        toGroupId: group.id,
        port: PORTS.redis,
        description: `Redis from ${client.name}`,
      });
    }

    const subnets = new ElasticacheSubnetGroup(this, "subnets", {
      name: `${name}-redis`,
      description: `Private subnets of ${name}`,
      subnetIds: [...props.subnetIds],
    });
    const parameters = new ElasticacheParameterGroup(this, "parameters", {
      name: `${name}-redis7${props.clusterMode ? "-cluster" : ""}`,
      family: "redis7",
      description: "Chat: pub/sub buffers for fan-out subscribers, no eviction",
      parameter: [
        { name: "cluster-enabled", value: props.clusterMode ? "yes" : "no" },
        // The acknowledgement stream must never be evicted to make room.
        { name: "maxmemory-policy", value: "noeviction" },
        {
          name: "client-output-buffer-limit-pubsub-hard-limit",
          value: `${limits.hardBytes}`,
        },
        {
          name: "client-output-buffer-limit-pubsub-soft-limit",
          value: `${limits.softBytes}`,
        },
        {
          name: "client-output-buffer-limit-pubsub-soft-seconds",
          value: `${limits.softSeconds}`,
        },
      ],
      lifecycle: { createBeforeDestroy: true },
    });

    const token = this.authToken(props.regionId, props.kmsKeyArn);
    const slowLog = new CloudwatchLogGroup(this, "slow-log", {
      name: `/chat/${props.regionId}/redis-slow-log`,
      retentionInDays: 14,
    });

    const topology = props.clusterMode
      ? {
          clusterMode: "enabled",
          numNodeGroups: props.shards,
          replicasPerNodeGroup: props.replicasPerShard,
        }
      : {
          clusterMode: "disabled",
          numCacheClusters: 1 + props.replicasPerShard,
          preferredCacheClusterAzs: Array.from(
            { length: 1 + props.replicasPerShard },
            (_, i) => props.azNames[i % props.azNames.length]!,
          ),
        };
    const redis = new ElasticacheReplicationGroup(this, "group", {
      replicationGroupId: name,
      description: `Chat pub/sub and acknowledgement stream of region ${props.regionId}`,
      engine: "redis",
      engineVersion: props.engineVersion ?? DEFAULTS.engineVersion,
      nodeType: props.nodeType,
      port: PORTS.redis,
      parameterGroupName: parameters.name,
      subnetGroupName: subnets.name,
      securityGroupIds: [group.id],
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: "required",
      atRestEncryptionEnabled: "true",
      kmsKeyId: props.kmsKeyArn,
      authToken: token.value,
      autoMinorVersionUpgrade: "true",
      applyImmediately: false,
      snapshotRetentionLimit:
        props.snapshotRetentionDays ?? DEFAULTS.snapshotRetentionDays,
      snapshotWindow: "03:00-04:00",
      maintenanceWindow: props.maintenanceWindow ?? DEFAULTS.maintenanceWindow,
      logDeliveryConfiguration: [
        {
          destination: slowLog.name,
          destinationType: "cloudwatch-logs",
          logFormat: "json",
          logType: "slow-log",
        },
      ],
      ...topology,
      tags: { Name: name },
    });

    const endpoint = props.clusterMode
      ? redis.configurationEndpointAddress
      : redis.primaryEndpointAddress;
    this.url = `rediss://${endpoint}:${PORTS.redis}`;
    this.authSecretArn = token.secretArn;
    this.securityGroupId = group.id;
    this.clusterMode = props.clusterMode;
  }

  /**
   * The AUTH token: generated once by Secrets Manager, stored in a secret, and read
   * back from the secret's state, so later plans never change it. Rotating it is an
   * operation (put a new secret value, then update the group with ROTATE), not a deploy.
   */
  private authToken(
    regionId: string,
    kmsKeyArn: string,
  ): { secretArn: string; value: string } {
    const generated = new DataAwsSecretsmanagerRandomPassword(this, "token-generator", {
      passwordLength: 64,
      excludePunctuation: true,
    });
    const secret = new SecretsmanagerSecret(this, "token-secret", {
      name: `chat/${regionId}/redis-auth-token`,
      description: "AUTH token of the chat Redis (CHAT_REDIS_PASSWORD)",
      kmsKeyId: kmsKeyArn,
      recoveryWindowInDays: 7,
    });
    const version = new SecretsmanagerSecretVersion(this, "token", {
      secretId: secret.id,
      secretString: generated.randomPassword,
      lifecycle: { ignoreChanges: ["secret_string"] },
    });
    return { secretArn: secret.arn, value: version.secretString };
  }
}
