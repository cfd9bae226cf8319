// The AWS drills' scenarios, one function each: the fault step (with the look-ups it
// needs and its safety checks) and the rollback step that runAwsDrill() runs in a
// `finally`. Each rollback undoes only what its fault step attempted.
import {
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  TestFailoverCommand,
  type ReplicationGroup,
} from "@aws-sdk/client-elasticache";
import {
  DescribeServicesCommand,
  ECSClient,
  ListTasksCommand,
  StopTaskCommand,
  type Service,
} from "@aws-sdk/client-ecs";
import {
  GetHealthCheckCommand,
  ListHealthChecksCommand,
  ListTagsForResourcesCommand,
  Route53Client,
  UpdateHealthCheckCommand,
} from "@aws-sdk/client-route-53";
import {
  DescribeInstancesCommand,
  EC2Client,
  StartInstancesCommand,
  StopInstancesCommand,
  type Instance,
} from "@aws-sdk/client-ec2";

import { pollUntil } from "./aws-observe.ts";
import { AWS_DEFAULTS, type AwsScenario, type AwsTargets } from "./aws-plan.ts";

/** Bounds every AWS call, so a drill cannot hang on the network. */
const REQUEST_HANDLER = Object.freeze({
  connectionTimeout: 5_000,
  requestTimeout: 20_000,
});

/** What a scenario function returns: its fault and its rollback. */
export interface ScenarioSteps {
  /** Looks up what it needs, then injects the fault. */
  inject(): Promise<void>;
  /** Undoes the fault, or waits until AWS has; returns what it found. */
  rollback(): Promise<string>;
  /** The CLI command that undoes or checks the fault by hand. */
  manual(): string;
}

export interface DrillContext {
  readonly t: AwsTargets;
  readonly settleMs: number;
  readonly pollMs: number;
  readonly step: (what: string) => void;
  readonly clients: Clients;
}

export const SCENARIOS: Record<AwsScenario, (ctx: DrillContext) => ScenarioSteps> = {
  "redis-failover": redisFailover,
  "wss-crash": wssCrash,
  "region-outage": regionOutage,
  "zk-node-loss": zkNodeLoss,
};

/** ElastiCache TestFailover on the region's replication group; AWS restores it alone. */
function redisFailover(ctx: DrillContext): ScenarioSteps {
  const { t, step } = ctx;
  const rg = t.replicationGroup;
  let before: string | undefined;
  let attempted = false;
  let injected = false;

  const describe = async (): Promise<ReplicationGroup> => {
    const out = await ctx.clients.elasticache.send(
      new DescribeReplicationGroupsCommand({ ReplicationGroupId: rg }),
    );
    const group = out.ReplicationGroups?.[0];
    if (!group) throw new Error(`no replication group ${rg}; check --replication-group`);
    return group;
  };
  const primary = (g: ReplicationGroup) =>
    g.NodeGroups?.find((n) => n.NodeGroupId === t.nodeGroup)?.NodeGroupMembers?.find(
      (m) => m.CurrentRole === "primary",
    )?.CacheClusterId;

  return {
    async inject() {
      const group = await describe();
      before = primary(group);
      step(`${rg} is ${group.Status ?? "?"}, primary ${before ?? "unknown"}`);
      attempted = true;
      await ctx.clients.elasticache.send(
        new TestFailoverCommand({ ReplicationGroupId: rg, NodeGroupId: t.nodeGroup }),
      );
      injected = true;
      step(`elasticache:TestFailover ${rg} node group ${t.nodeGroup} accepted`);
    },
    async rollback() {
      if (!attempted) return "nothing to roll back: TestFailover was not sent";

      // After a refused TestFailover, only check the group is still available.
      const moved = (g: ReplicationGroup) =>
        !injected || before === undefined || primary(g) !== before;
      const group = await pollUntil(
        `${rg} available${injected ? " with a new primary" : ""}`,
        describe,
        (g) => g.Status === "available" && moved(g),
        {
          timeoutMs: ctx.settleMs,
          pollMs: ctx.pollMs,
          describe: (g) => `${g.Status}, primary ${primary(g) ?? "unknown"}`,
        },
      );
      return `${rg} available, primary ${before ?? "unknown"} -> ${primary(group) ?? "unknown"}`;
    },
    manual: () =>
      `aws elasticache describe-replication-groups --region ${t.awsRegion} ` +
      `--replication-group-id ${rg}`,
  };
}

/** ECS StopTask on one running task of the region's WSS service; ECS replaces it. */
function wssCrash(ctx: DrillContext): ScenarioSteps {
  const { t, step } = ctx;
  let attempted = false;

  const describe = async (): Promise<Service> => {
    const out = await ctx.clients.ecs.send(
      new DescribeServicesCommand({ cluster: t.cluster, services: [t.service] }),
    );
    const service = out.services?.[0];
    if (!service) throw new Error(`no service ${t.service} in cluster ${t.cluster}`);
    return service;
  };

  return {
    async inject() {
      const list = await ctx.clients.ecs.send(
        new ListTasksCommand({
          cluster: t.cluster,
          serviceName: t.service,
          desiredStatus: "RUNNING",
        }),
      );
      const tasks = list.taskArns ?? [];
      const task = tasks[0];
      if (!task) {
        throw new Error(
          `no running task of service ${t.service} in cluster ${t.cluster}; ` +
            "check --cluster and --service",
        );
      }
      step(`${tasks.length} running task(s); stopping ${task}`);
      attempted = true;
      await ctx.clients.ecs.send(
        new StopTaskCommand({
          cluster: t.cluster,
          task,
          reason: "chatctl drill wss-crash",
        }),
      );
      step(`ecs:StopTask ${task} accepted`);
    },
    async rollback() {
      if (!attempted) return "nothing to roll back: no task was stopped";

      const s = await pollUntil(
        `${t.service} back to its desired task count`,
        describe,
        (s) =>
          (s.runningCount ?? 0) >= (s.desiredCount ?? 1) && (s.pendingCount ?? 0) === 0,
        {
          timeoutMs: ctx.settleMs,
          pollMs: ctx.pollMs,
          describe: (s) => `${s.runningCount} running of ${s.desiredCount}`,
        },
      );
      return `${t.service}: ${s.runningCount} of ${s.desiredCount} task(s) running`;
    },
    manual: () =>
      `aws ecs describe-services --region ${t.awsRegion} --cluster ${t.cluster} ` +
      `--services ${t.service}`,
  };
}

/** Inverts the region's Route 53 health check (never disables it); rollback reverts. */
function regionOutage(ctx: DrillContext): ScenarioSteps {
  const { t, step } = ctx;
  let id = t.healthCheckId;
  let attempted = false;

  return {
    async inject() {
      id ??= await findHealthCheck(ctx);
      const out = await ctx.clients.route53.send(
        new GetHealthCheckCommand({ HealthCheckId: id }),
      );
      const config = out.HealthCheck?.HealthCheckConfig;
      if (config?.Disabled) {
        throw new Error(
          `health check ${id} is disabled, and a disabled check counts as healthy: ` +
            "enable it before this drill",
        );
      }
      if (config?.Inverted) {
        throw new Error(
          `health check ${id} is already inverted (another drill?); set it back with: ` +
            `aws route53 update-health-check --health-check-id ${id} --no-inverted`,
        );
      }
      attempted = true;
      await ctx.clients.route53.send(
        new UpdateHealthCheckCommand({ HealthCheckId: id, Inverted: true }),
      );
      step(
        `route53:UpdateHealthCheck ${id} Inverted=true: ${t.region} reported unhealthy`,
      );
    },
    async rollback() {
      if (!attempted || !id)
        return "nothing to roll back: the health check was not changed";

      await ctx.clients.route53.send(
        new UpdateHealthCheckCommand({ HealthCheckId: id, Inverted: false }),
      );
      return (
        `health check ${id} Inverted=false; Route 53 sends clients to ${t.region} ` +
        "again once its checkers agree (about 30 s)"
      );
    },
    manual: () =>
      `aws route53 update-health-check --health-check-id ${id ?? "<id>"} --no-inverted`,
  };
}

/** Stops one ZooKeeper instance of the region; rollback starts it again. */
function zkNodeLoss(ctx: DrillContext): ScenarioSteps {
  const { t, step } = ctx;
  let id = t.instanceId;
  let attempted = false;
  let injected = false;

  const stateOf = async (instanceId: string): Promise<Instance> => {
    const out = await ctx.clients.ec2.send(
      new DescribeInstancesCommand({ InstanceIds: [instanceId] }),
    );
    const instance = out.Reservations?.[0]?.Instances?.[0];
    if (!instance) throw new Error(`no instance ${instanceId}; check --instance-id`);
    return instance;
  };
  const poll = (instanceId: string, state: string) =>
    pollUntil(
      `${instanceId} ${state}`,
      () => stateOf(instanceId),
      (i) => i.State?.Name === state,
      {
        timeoutMs: ctx.settleMs,
        pollMs: ctx.pollMs,
        describe: (i) => i.State?.Name ?? "unknown",
      },
    );

  return {
    async inject() {
      if (id) {
        const state = (await stateOf(id)).State?.Name;
        if (state !== "running")
          throw new Error(`instance ${id} is ${state}, not running`);
      } else {
        id = await pickZkNode(ctx);
      }
      step(`stopping ZooKeeper instance ${id}`);
      attempted = true;
      await ctx.clients.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
      injected = true;
      step(`ec2:StopInstances ${id} accepted`);
    },
    async rollback() {
      if (!attempted || !id) return "nothing to roll back: no instance was stopped";

      // Starting an instance that is still stopping fails; wait for it to stop first.
      if (injected) await poll(id, "stopped");
      await ctx.clients.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
      step(`ec2:StartInstances ${id} accepted`);
      await poll(id, "running");
      return `ZooKeeper instance ${id} running again; it rejoins the ensemble by itself`;
    },
    manual: () =>
      `aws ec2 start-instances --region ${t.awsRegion} --instance-ids ${id ?? "<id>"}`,
  };
}

/** The id of the health check tagged Name=chat-<region>-wss, else a clear error. */
async function findHealthCheck(ctx: DrillContext): Promise<string> {
  const { route53 } = ctx.clients;
  const ids: string[] = [];
  let marker: string | undefined;
  do {
    const page = await route53.send(new ListHealthChecksCommand({ Marker: marker }));
    for (const hc of page.HealthChecks ?? []) if (hc.Id) ids.push(hc.Id);
    marker = page.IsTruncated ? page.NextMarker : undefined;
  } while (marker);

  const found: string[] = [];
  for (let i = 0; i < ids.length; i += 10) {
    const out = await route53.send(
      new ListTagsForResourcesCommand({
        ResourceType: "healthcheck",
        ResourceIds: ids.slice(i, i + 10),
      }),
    );
    for (const set of out.ResourceTagSets ?? []) {
      const name = set.Tags?.find((tag) => tag.Key === "Name")?.Value;
      if (name === ctx.t.healthCheckName && set.ResourceId) found.push(set.ResourceId);
    }
  }
  if (found.length !== 1) {
    throw new Error(
      `${found.length === 0 ? "no" : "several"} Route 53 health checks tagged ` +
        `Name=${ctx.t.healthCheckName}${found.length ? ` (${found.join(", ")})` : ""}; ` +
        "pass --health-check-id",
    );
  }
  ctx.step(`health check of ${ctx.t.region}: ${found[0]}`);
  return found[0]!;
}

/**
 * The lowest-numbered ZooKeeper node of the region. Refuses unless every node of the
 * ensemble runs: stopping one more node of a degraded ensemble could lose its quorum.
 */
async function pickZkNode(ctx: DrillContext): Promise<string> {
  const prefix = ctx.t.zkNamePrefix;
  const out = await ctx.clients.ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: "tag:Name", Values: [`${prefix}*`] },
        {
          Name: "instance-state-name",
          Values: ["pending", "running", "stopping", "stopped"],
        },
      ],
    }),
  );
  const nameOf = (i: Instance) => i.Tags?.find((tag) => tag.Key === "Name")?.Value ?? "";
  const nodes = (out.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .filter((i) => i.InstanceId && nameOf(i).startsWith(prefix))
    .sort(
      (a, b) =>
        Number(nameOf(a).slice(prefix.length)) - Number(nameOf(b).slice(prefix.length)),
    );

  if (nodes.length < 3) {
    throw new Error(
      `found ${nodes.length} instance(s) tagged Name=${prefix}<n>, not an ensemble of 3 or 5; ` +
        "pass --instance-id",
    );
  }
  const down = nodes.filter((i) => i.State?.Name !== "running");
  if (down.length > 0) {
    const list = down.map((i) => `${nameOf(i)} (${i.State?.Name})`).join(", ");
    throw new Error(
      `not every ZooKeeper node runs: ${list}; stopping another could lose the quorum`,
    );
  }
  return nodes[0]!.InstanceId!;
}

/** The AWS clients of one drill, made on first use. */
export class Clients {
  private made: { destroy(): void }[] = [];
  private cache = new Map<string, unknown>();

  constructor(private readonly awsRegion: string) {}

  get elasticache(): ElastiCacheClient {
    return this.once("elasticache", () => new ElastiCacheClient(this.config()));
  }

  get ecs(): ECSClient {
    return this.once("ecs", () => new ECSClient(this.config()));
  }

  get ec2(): EC2Client {
    return this.once("ec2", () => new EC2Client(this.config()));
  }

  get route53(): Route53Client {
    return this.once(
      "route53",
      () => new Route53Client({ ...this.config(), region: AWS_DEFAULTS.route53Region }),
    );
  }

  destroy(): void {
    for (const c of this.made) c.destroy();
  }

  private config() {
    return { region: this.awsRegion, requestHandler: { ...REQUEST_HANDLER } };
  }

  private once<T extends { destroy(): void }>(key: string, make: () => T): T {
    if (!this.cache.has(key)) {
      const client = make();
      this.cache.set(key, client);
      this.made.push(client);
    }
    return this.cache.get(key) as T;
  }
}
