// The AWS target of the drills, before anything is called: the options, the names of
// the resources each scenario acts on (from the flags, else from the naming convention
// of infra/), and the plan printed before any AWS call.
//
// Naming convention (infra/constructs/*.ts):
//   ElastiCache replication group   chat-<region>            (redis.ts)
//   ECS cluster                     chat-<region>            (app-platform.ts)
//   ECS service of the WSS fleet    chat-<region>-wss        (fargate-service.ts)
//   Route 53 health check           tagged Name=chat-<region>-wss (regional-routing.ts);
//                                   its id is random, so it is looked up by that tag
//   ZooKeeper EC2 instances         tagged Name=chat-<region>-zk-<n> (zookeeper.ts)
import { loadRegions, REGIONS_DIR } from "../../../regions/schema.ts";
import type { Thresholds } from "./report.ts";

/** The scenarios that have an AWS target. */
export const AWS_SCENARIOS = Object.freeze([
  "redis-failover",
  "wss-crash",
  "region-outage",
  "zk-node-loss",
] as const);

export type AwsScenario = (typeof AWS_SCENARIOS)[number];

export interface AwsDrillOptions {
  /** The chat region id, as in regions/<id>.json. */
  readonly region: string;
  /** Act. Without it the drill prints its plan and calls nothing. @default false */
  readonly yes?: boolean;
  /** The AWS region of the chat region. @default awsRegion of regions/<id>.json */
  readonly awsRegion?: string;
  /** Where region files are read. @default CHAT_REGIONS_DIR, else regions/ */
  readonly regionsDir?: string;
  /** Seconds to observe between the fault and the rollback. @default 60 */
  readonly durationS?: number;
  /**
   * A URL probed with GET once a second while observing, such as
   * https://usa.ws.<domain>/healthz; a non-2xx answer or no answer is a failure.
   * @default none: the drill only waits
   */
  readonly endpoint?: string;
  /** @default chat-<region> */
  readonly replicationGroup?: string;
  /** The shard whose primary fails over. @default 0001 (the only one without cluster mode) */
  readonly nodeGroup?: string;
  /** @default chat-<region> */
  readonly cluster?: string;
  /** @default chat-<region>-wss */
  readonly service?: string;
  /** @default the health check tagged Name=chat-<region>-wss */
  readonly healthCheckId?: string;
  /** @default the lowest-numbered instance tagged Name=chat-<region>-zk-<n> */
  readonly instanceId?: string;
  /** Longest wait for the system to settle in the rollback step, seconds. @default 900 */
  readonly settleTimeoutS?: number;
  /** Interval between AWS status polls, ms. @default 5000 */
  readonly pollMs?: number;
  /** Interval between endpoint probes, ms. @default 1000 */
  readonly probeMs?: number;
  readonly thresholds?: Thresholds;
  /** Aborts the observation (Ctrl-C); the rollback still runs. */
  readonly signal?: AbortSignal;
  /** Where the plan and progress lines go. @default standard error */
  readonly log?: (line: string) => void;
}

/**
 * What runAwsDrill takes: AwsDrillOptions, and/or `chatctl drill`'s parsed flags as
 * they are (kebab-case; --duration and --settle-timeout as strings of seconds). Other
 * keys (the caller's --json, --target, ...) are ignored.
 */
export type AwsDrillInput = AwsDrillOptions & {
  readonly duration?: string;
  readonly "aws-region"?: string;
  readonly "replication-group"?: string;
  readonly "node-group"?: string;
  readonly "health-check-id"?: string;
  readonly "instance-id"?: string;
  readonly "settle-timeout"?: string;
};

/** The flag spelling of each option that has one. */
const FLAG_NAMES = Object.freeze({
  awsRegion: "aws-region",
  replicationGroup: "replication-group",
  nodeGroup: "node-group",
  healthCheckId: "health-check-id",
  instanceId: "instance-id",
} as const);

export const AWS_DEFAULTS = Object.freeze({
  yes: false,
  durationS: 60,
  nodeGroup: "0001",
  settleTimeoutS: 900,
  pollMs: 5000,
  probeMs: 1000,
  /** Route 53 is a global service; its API is served from us-east-1. */
  route53Region: "us-east-1",
});

/** The resources a drill acts on; `undefined` ids are looked up when it runs. */
export interface AwsTargets {
  readonly region: string;
  readonly awsRegion: string;
  readonly replicationGroup: string;
  readonly nodeGroup: string;
  readonly cluster: string;
  readonly service: string;
  readonly healthCheckId: string | undefined;
  /** The Name tag of the region's Route 53 health check. */
  readonly healthCheckName: string;
  readonly instanceId: string | undefined;
  /** The Name tag of the ZooKeeper instances, without the node number. */
  readonly zkNamePrefix: string;
}

/**
 * parseArgs options for the AWS-only flags of `chatctl drill`; the caller owns
 * --region, --duration, --json and the threshold flags.
 */
export const AWS_DRILL_FLAGS = Object.freeze({
  yes: { type: "boolean" },
  endpoint: { type: "string" },
  "aws-region": { type: "string" },
  "replication-group": { type: "string" },
  "node-group": { type: "string" },
  cluster: { type: "string" },
  service: { type: "string" },
  "health-check-id": { type: "string" },
  "instance-id": { type: "string" },
  "settle-timeout": { type: "string" },
} as const);

/**
 * AwsDrillOptions from an AwsDrillInput: flag spellings become option names and
 * seconds become numbers. Rejects a value given both ways differently, or a bad number.
 */
export function normalizeAwsInput(input: AwsDrillInput): AwsDrillOptions {
  const out: Record<string, unknown> = {};
  for (const [option, flag] of Object.entries(FLAG_NAMES)) {
    const a = input[option as keyof typeof FLAG_NAMES];
    const b = input[flag];
    if (a !== undefined && b !== undefined && a !== b) {
      throw new Error(`--${flag} "${b}" conflicts with ${option} "${a}"; give one`);
    }
    out[option] = a ?? b;
  }
  return {
    region: input.region,
    yes: input.yes,
    regionsDir: input.regionsDir,
    endpoint: input.endpoint,
    cluster: input.cluster,
    service: input.service,
    durationS: input.durationS ?? seconds(input.duration, "--duration", true),
    settleTimeoutS:
      input.settleTimeoutS ?? seconds(input["settle-timeout"], "--settle-timeout", false),
    pollMs: input.pollMs,
    probeMs: input.probeMs,
    thresholds: input.thresholds,
    signal: input.signal,
    log: input.log,
    ...(out as Pick<AwsDrillOptions, keyof typeof FLAG_NAMES>),
  };
}

export function isAwsScenario(s: string): s is AwsScenario {
  return (AWS_SCENARIOS as readonly string[]).includes(s);
}

/** Names every resource from the options, else the naming convention. */
export function resolveTargets(o: AwsDrillOptions): AwsTargets {
  const base = `chat-${o.region}`;
  return {
    region: o.region,
    awsRegion: o.awsRegion ?? awsRegionOf(o.region, o.regionsDir),
    replicationGroup: o.replicationGroup ?? base,
    nodeGroup: o.nodeGroup ?? AWS_DEFAULTS.nodeGroup,
    cluster: o.cluster ?? base,
    service: o.service ?? `${base}-wss`,
    healthCheckId: o.healthCheckId,
    healthCheckName: `${base}-wss`,
    instanceId: o.instanceId,
    zkNamePrefix: `${base}-zk-`,
  };
}

/** What a drill will do, one line per AWS call or wait, for printing before it acts. */
export function describePlan(
  scenario: AwsScenario,
  t: AwsTargets,
  o: Pick<AwsDrillOptions, "durationS" | "endpoint" | "settleTimeoutS">,
): string[] {
  const duration = o.durationS ?? AWS_DEFAULTS.durationS;
  const settle = o.settleTimeoutS ?? AWS_DEFAULTS.settleTimeoutS;
  const observe = o.endpoint
    ? `observe for ${duration} s: GET ${o.endpoint} every second`
    : `observe for ${duration} s (no --endpoint: wait only)`;
  const steps = PLANS[scenario](t, settle);
  return [
    `aws drill ${scenario}, region ${t.region} (${t.awsRegion}):`,
    ...steps.fault.map((s, i) => `  ${i + 1}. ${s}`),
    `  ${steps.fault.length + 1}. ${observe}`,
    "  rollback, always, even after a failure:",
    ...steps.rollback.map((s) => `     - ${s}`),
  ];
}

const PLANS: Record<
  AwsScenario,
  (t: AwsTargets, settleS: number) => { fault: string[]; rollback: string[] }
> = {
  "redis-failover": (t) => ({
    fault: [
      `elasticache:DescribeReplicationGroups ReplicationGroupId=${t.replicationGroup} ` +
        "(note the primary)",
      `elasticache:TestFailover ReplicationGroupId=${t.replicationGroup} ` +
        `NodeGroupId=${t.nodeGroup}`,
    ],
    rollback: [
      "none needed: ElastiCache promotes a replica and replaces the old primary itself",
      `elasticache:DescribeReplicationGroups until ${t.replicationGroup} is available ` +
        "with a new primary",
    ],
  }),
  "wss-crash": (t) => ({
    fault: [
      `ecs:ListTasks cluster=${t.cluster} serviceName=${t.service} desiredStatus=RUNNING`,
      `ecs:StopTask cluster=${t.cluster} task=<the first running task>`,
    ],
    rollback: [
      "none needed: the ECS service starts a replacement task itself",
      `ecs:DescribeServices cluster=${t.cluster} services=${t.service} until ` +
        "runningCount >= desiredCount",
    ],
  }),
  "region-outage": (t) => ({
    fault: [
      ...(t.healthCheckId
        ? []
        : [
            "route53:ListHealthChecks, route53:ListTagsForResources: find the check " +
              `tagged Name=${t.healthCheckName}`,
          ]),
      `route53:GetHealthCheck HealthCheckId=${t.healthCheckId ?? "<found>"} ` +
        "(refuse if it is disabled or already inverted)",
      `route53:UpdateHealthCheck HealthCheckId=${t.healthCheckId ?? "<found>"} ` +
        "Inverted=true (never Disabled: a disabled check counts as healthy)",
    ],
    rollback: [
      `route53:UpdateHealthCheck HealthCheckId=${t.healthCheckId ?? "<found>"} Inverted=false`,
    ],
  }),
  "zk-node-loss": (t, settleS) => ({
    fault: [
      t.instanceId
        ? `ec2:DescribeInstances InstanceIds=${t.instanceId} (refuse unless it is running)`
        : `ec2:DescribeInstances tag:Name=${t.zkNamePrefix}* (pick the lowest-numbered ` +
          "node; refuse unless every node runs, so the ensemble keeps its quorum)",
      `ec2:StopInstances InstanceIds=${t.instanceId ?? "<picked>"}`,
    ],
    rollback: [
      `ec2:DescribeInstances until ${t.instanceId ?? "<picked>"} is stopped ` +
        `(at most ${settleS} s)`,
      `ec2:StartInstances InstanceIds=${t.instanceId ?? "<picked>"}`,
      "ec2:DescribeInstances until it is running",
    ],
  }),
};

function seconds(
  raw: string | undefined,
  flag: string,
  zero: boolean,
): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!zero && n === 0)) {
    throw new Error(`${flag} must be a number of seconds${zero ? "" : " above 0"}`);
  }
  return n;
}

function awsRegionOf(region: string, dir: string | undefined): string {
  const regions = loadRegions(dir ?? (process.env.CHAT_REGIONS_DIR || REGIONS_DIR));
  const found = regions.get(region);
  if (!found) {
    throw new Error(
      `no region "${region}" in the region files (${[...regions.keys()].join(", ")}); ` +
        "check --region, or pass --aws-region",
    );
  }
  return found.awsRegion;
}
