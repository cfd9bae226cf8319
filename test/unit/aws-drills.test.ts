// The AWS drills against aws-sdk-client-mock: the exact calls and inputs of each
// scenario, nothing called without --yes, and the rollback after any failure.
import { createServer, type Server } from "node:http";

import {
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  TestFailoverCommand,
} from "@aws-sdk/client-elasticache";
import {
  DescribeServicesCommand,
  ECSClient,
  ListTasksCommand,
  StopTaskCommand,
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
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";

import {
  AWS_SCENARIOS,
  runAwsDrill,
  type AwsDrillInput,
} from "../../apps/ops/drills/aws.ts";
import { normalizeAwsInput } from "../../apps/ops/drills/aws-plan.ts";

const elasticache = mockClient(ElastiCacheClient);
const ecs = mockClient(ECSClient);
const route53 = mockClient(Route53Client);
const ec2 = mockClient(EC2Client);
/** What the tests read of each mock: its recorded calls, in order. */
interface Recorder {
  calls(): readonly { readonly args: readonly unknown[] }[];
  reset(): unknown;
  restore(): void;
}
const mocks: readonly Recorder[] = [elasticache, ecs, route53, ec2];

let logged: string[] = [];

/**
 * Every AWS call of the drill, in the order it was sent. Each scenario uses one AWS
 * service, so the calls of one client are the whole sequence.
 */
function sent(): { command: string; input: unknown }[] {
  return mocks
    .flatMap((m) => m.calls())
    .map((c) => {
      const cmd = c.args[0] as { constructor: { name: string }; input: unknown };
      return { command: cmd.constructor.name.replace(/Command$/, ""), input: cmd.input };
    });
}

/** Options that make a drill finish in milliseconds; the region comes from regions/. */
function opts(extra: Partial<AwsDrillInput> = {}): AwsDrillInput {
  return {
    region: "usa",
    yes: true,
    durationS: 0,
    pollMs: 1,
    settleTimeoutS: 0.2,
    log: (line) => logged.push(line),
    ...extra,
  };
}

function replicationGroup(status: string, primary: string, replica: string) {
  return {
    ReplicationGroups: [
      {
        ReplicationGroupId: "chat-usa",
        Status: status,
        NodeGroups: [
          {
            NodeGroupId: "0001",
            NodeGroupMembers: [
              { CacheClusterId: primary, CurrentRole: "primary" },
              { CacheClusterId: replica, CurrentRole: "replica" },
            ],
          },
        ],
      },
    ],
  };
}

function instances(...list: [id: string, name: string, state: string][]) {
  return {
    Reservations: [
      {
        Instances: list.map(([InstanceId, name, state]) => ({
          InstanceId,
          State: { Name: state as "running" },
          Tags: [{ Key: "Name", Value: name }],
        })),
      },
    ],
  };
}

const ZK_LOOKUP = {
  Filters: [
    { Name: "tag:Name", Values: ["chat-usa-zk-*"] },
    {
      Name: "instance-state-name",
      Values: ["pending", "running", "stopping", "stopped"],
    },
  ],
};

beforeEach(() => {
  for (const m of mocks) m.reset();
  logged = [];
});

afterAll(() => {
  for (const m of mocks) m.restore();
});

describe("AWS drills without --yes", () => {
  for (const scenario of AWS_SCENARIOS) {
    it(`${scenario} prints its plan and calls nothing`, async () => {
      const report = await runAwsDrill(scenario, opts({ yes: false }));

      expect(sent()).toEqual([]);
      expect(report.passed).toBe(false);
      expect(report.failures).toEqual([
        "dry run: nothing was done; add --yes to run the drill",
      ]);
      expect(logged[0]).toBe(`aws drill ${scenario}, region usa (us-east-1):`);
      expect(logged.join("\n")).toMatch(/rollback, always, even after a failure/);
      expect(logged.at(-1)).toMatch(/add --yes/);
    });
  }

  it("names each call and its target in the plan", async () => {
    await runAwsDrill("region-outage", opts({ yes: false }));
    const plan = logged.join("\n");
    expect(plan).toMatch(/route53:ListHealthChecks.*tagged Name=chat-usa-wss/);
    expect(plan).toMatch(/UpdateHealthCheck HealthCheckId=<found> Inverted=true/);
    expect(plan).toMatch(/UpdateHealthCheck HealthCheckId=<found> Inverted=false/);
    expect(plan).not.toMatch(/Disabled=/);
  });

  it("refuses scenarios that have no AWS target", async () => {
    await expect(runAwsDrill("redis-outage", opts())).rejects.toThrow(
      /no AWS target.*--target local/,
    );
    expect(sent()).toEqual([]);
  });
});

describe("redis-failover", () => {
  it("calls TestFailover on chat-usa and waits for a new primary", async () => {
    elasticache
      .on(DescribeReplicationGroupsCommand)
      .resolvesOnce(replicationGroup("available", "chat-usa-001", "chat-usa-002"))
      .resolvesOnce(replicationGroup("modifying", "chat-usa-001", "chat-usa-002"))
      .resolves(replicationGroup("available", "chat-usa-002", "chat-usa-001"));
    elasticache.on(TestFailoverCommand).resolves({});

    const report = await runAwsDrill("redis-failover", opts());

    const describeInput = { ReplicationGroupId: "chat-usa" };
    expect(sent()).toEqual([
      { command: "DescribeReplicationGroups", input: describeInput },
      {
        command: "TestFailover",
        input: { ReplicationGroupId: "chat-usa", NodeGroupId: "0001" },
      },
      { command: "DescribeReplicationGroups", input: describeInput },
      { command: "DescribeReplicationGroups", input: describeInput },
    ]);
    expect(report).toMatchObject({
      scenario: "redis-failover",
      target: "aws",
      passed: true,
    });
    expect(report.steps.at(-1)!.what).toMatch(/primary chat-usa-001 -> chat-usa-002/);
  });

  it("still waits on the group after TestFailover fails, and fails the drill", async () => {
    elasticache
      .on(DescribeReplicationGroupsCommand)
      .resolves(replicationGroup("available", "chat-usa-001", "chat-usa-002"));
    elasticache
      .on(TestFailoverCommand)
      .rejects(new Error("TestFailoverNotAvailableFault"));

    const report = await runAwsDrill(
      "redis-failover",
      opts({ replicationGroup: "custom-rg", nodeGroup: "0002" }),
    );

    expect(sent().map((c) => c.command)).toEqual([
      "DescribeReplicationGroups",
      "TestFailover",
      "DescribeReplicationGroups",
    ]);
    expect(sent()[1]!.input).toEqual({
      ReplicationGroupId: "custom-rg",
      NodeGroupId: "0002",
    });
    expect(report.passed).toBe(false);
    expect(report.failures).toContain("fault step failed: TestFailoverNotAvailableFault");
    expect(report.steps.at(-1)!.what).toMatch(/^rollback: custom-rg available/);
  });
});

describe("wss-crash", () => {
  const task = "arn:aws:ecs:us-east-1:123456789012:task/chat-usa/abc";

  it("lists the WSS service's running tasks and stops the first", async () => {
    ecs.on(ListTasksCommand).resolves({ taskArns: [task, `${task}2`] });
    ecs.on(StopTaskCommand).resolves({});
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [{ runningCount: 1, desiredCount: 2, pendingCount: 1 }] })
      .resolves({ services: [{ runningCount: 2, desiredCount: 2, pendingCount: 0 }] });

    const report = await runAwsDrill("wss-crash", opts());

    const describeServices = {
      command: "DescribeServices",
      input: { cluster: "chat-usa", services: ["chat-usa-wss"] },
    };
    expect(sent()).toEqual([
      {
        command: "ListTasks",
        input: {
          cluster: "chat-usa",
          serviceName: "chat-usa-wss",
          desiredStatus: "RUNNING",
        },
      },
      {
        command: "StopTask",
        input: { cluster: "chat-usa", task, reason: "chatctl drill wss-crash" },
      },
      describeServices,
      describeServices,
    ]);
    expect(report.passed).toBe(true);
    expect(report.steps.at(-1)!.what).toBe(
      "rollback: chat-usa-wss: 2 of 2 task(s) running",
    );
  });

  it("checks the service after StopTask fails", async () => {
    ecs.on(ListTasksCommand).resolves({ taskArns: [task] });
    ecs.on(StopTaskCommand).rejects(new Error("AccessDenied"));
    ecs
      .on(DescribeServicesCommand)
      .resolves({ services: [{ runningCount: 2, desiredCount: 2, pendingCount: 0 }] });

    const report = await runAwsDrill("wss-crash", opts({ cluster: "c1", service: "s1" }));

    expect(sent().map((c) => c.command)).toEqual([
      "ListTasks",
      "StopTask",
      "DescribeServices",
    ]);
    expect(sent()[2]!.input).toEqual({ cluster: "c1", services: ["s1"] });
    expect(report.failures).toEqual(["fault step failed: AccessDenied"]);
  });

  it("stops nothing and rolls nothing back when no task runs", async () => {
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });

    const report = await runAwsDrill("wss-crash", opts());

    expect(sent().map((c) => c.command)).toEqual(["ListTasks"]);
    expect(report.failures[0]).toMatch(/no running task of service chat-usa-wss/);
    expect(report.steps.at(-1)!.what).toMatch(/nothing to roll back/);
  });
});

describe("region-outage", () => {
  const HC = "0f6a5e9c-hc-usa";
  const healthy = {
    HealthCheck: { HealthCheckConfig: { Inverted: false, Disabled: false } },
  };

  it("inverts the health check, then reverts it, never touching Disabled", async () => {
    route53.on(GetHealthCheckCommand).resolves(healthy as never);
    route53.on(UpdateHealthCheckCommand).resolves({} as never);

    const report = await runAwsDrill("region-outage", opts({ healthCheckId: HC }));

    expect(sent()).toEqual([
      { command: "GetHealthCheck", input: { HealthCheckId: HC } },
      { command: "UpdateHealthCheck", input: { HealthCheckId: HC, Inverted: true } },
      { command: "UpdateHealthCheck", input: { HealthCheckId: HC, Inverted: false } },
    ]);
    expect(report.passed).toBe(true);
  });

  it("finds the check tagged Name=chat-usa-wss across pages", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `hc-${i}`);
    route53
      .on(ListHealthChecksCommand)
      .resolvesOnce({
        HealthChecks: ids.slice(0, 6).map((Id) => ({ Id })),
        IsTruncated: true,
        NextMarker: "m1",
      } as never)
      .resolvesOnce({
        HealthChecks: ids.slice(6).map((Id) => ({ Id })),
        IsTruncated: false,
      } as never);
    route53
      .on(ListTagsForResourcesCommand)
      .callsFake((input: { ResourceIds: string[] }) => ({
        ResourceTagSets: input.ResourceIds.map((id) => ({
          ResourceId: id,
          Tags: [{ Key: "Name", Value: id === "hc-11" ? "chat-usa-wss" : "chat-eu-wss" }],
        })),
      }));
    route53.on(GetHealthCheckCommand).resolves(healthy as never);
    route53.on(UpdateHealthCheckCommand).resolves({} as never);

    await runAwsDrill("region-outage", opts({ "health-check-id": undefined }));

    expect(sent()).toEqual([
      { command: "ListHealthChecks", input: { Marker: undefined } },
      { command: "ListHealthChecks", input: { Marker: "m1" } },
      {
        command: "ListTagsForResources",
        input: { ResourceType: "healthcheck", ResourceIds: ids.slice(0, 10) },
      },
      {
        command: "ListTagsForResources",
        input: { ResourceType: "healthcheck", ResourceIds: ids.slice(10) },
      },
      { command: "GetHealthCheck", input: { HealthCheckId: "hc-11" } },
      { command: "UpdateHealthCheck", input: { HealthCheckId: "hc-11", Inverted: true } },
      {
        command: "UpdateHealthCheck",
        input: { HealthCheckId: "hc-11", Inverted: false },
      },
    ]);
  });

  it("refuses a disabled check and changes nothing", async () => {
    route53.on(GetHealthCheckCommand).resolves({
      HealthCheck: { HealthCheckConfig: { Inverted: false, Disabled: true } },
    } as never);

    const report = await runAwsDrill("region-outage", opts({ healthCheckId: HC }));

    expect(sent().map((c) => c.command)).toEqual(["GetHealthCheck"]);
    expect(report.passed).toBe(false);
    expect(report.failures[0]).toMatch(/disabled check counts as healthy/);
  });

  it("reverts the check when inverting it fails", async () => {
    route53.on(GetHealthCheckCommand).resolves(healthy as never);
    route53
      .on(UpdateHealthCheckCommand, { Inverted: true })
      .rejects(new Error("Throttling"));
    route53.on(UpdateHealthCheckCommand, { Inverted: false }).resolves({} as never);

    const report = await runAwsDrill("region-outage", opts({ "health-check-id": HC }));

    expect(sent().slice(1)).toEqual([
      { command: "UpdateHealthCheck", input: { HealthCheckId: HC, Inverted: true } },
      { command: "UpdateHealthCheck", input: { HealthCheckId: HC, Inverted: false } },
    ]);
    expect(report.failures).toEqual(["fault step failed: Throttling"]);
  });

  it("reverts the check when the observation is aborted", async () => {
    route53.on(GetHealthCheckCommand).resolves(healthy as never);
    route53.on(UpdateHealthCheckCommand).resolves({} as never);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();

    const report = await runAwsDrill(
      "region-outage",
      opts({ healthCheckId: HC, durationS: 30, signal: controller.signal }),
    );

    expect(Date.now() - started).toBeLessThan(5000);
    expect(sent().at(-1)).toEqual({
      command: "UpdateHealthCheck",
      input: { HealthCheckId: HC, Inverted: false },
    });
    expect(report.failures).toEqual(["observation failed: aborted"]);
  });

  it("reports a failed rollback with the command to run by hand", async () => {
    route53.on(GetHealthCheckCommand).resolves(healthy as never);
    route53.on(UpdateHealthCheckCommand, { Inverted: true }).resolves({} as never);
    route53
      .on(UpdateHealthCheckCommand, { Inverted: false })
      .rejects(new Error("Throttling"));

    const report = await runAwsDrill("region-outage", opts({ healthCheckId: HC }));

    expect(report.passed).toBe(false);
    expect(report.failures).toEqual([
      "rollback failed: Throttling; by hand: " +
        `aws route53 update-health-check --health-check-id ${HC} --no-inverted`,
    ]);
  });
});

describe("zk-node-loss", () => {
  const ensemble = instances(
    ["i-3", "chat-usa-zk-3", "running"],
    ["i-1", "chat-usa-zk-1", "running"],
    ["i-2", "chat-usa-zk-2", "running"],
  );

  it("stops the lowest-numbered node, waits for it to stop, starts it again", async () => {
    ec2.on(DescribeInstancesCommand, ZK_LOOKUP).resolves(ensemble);
    ec2
      .on(DescribeInstancesCommand, { InstanceIds: ["i-1"] })
      .resolvesOnce(instances(["i-1", "chat-usa-zk-1", "stopping"]))
      .resolvesOnce(instances(["i-1", "chat-usa-zk-1", "stopped"]))
      .resolves(instances(["i-1", "chat-usa-zk-1", "running"]));
    ec2.on(StopInstancesCommand).resolves({});
    ec2.on(StartInstancesCommand).resolves({});

    const report = await runAwsDrill("zk-node-loss", opts());

    const describeOne = { command: "DescribeInstances", input: { InstanceIds: ["i-1"] } };
    expect(sent()).toEqual([
      { command: "DescribeInstances", input: ZK_LOOKUP },
      { command: "StopInstances", input: { InstanceIds: ["i-1"] } },
      describeOne,
      describeOne,
      { command: "StartInstances", input: { InstanceIds: ["i-1"] } },
      describeOne,
    ]);
    expect(report.passed).toBe(true);
  });

  it("refuses when a node is already down, so the quorum is never at risk", async () => {
    ec2
      .on(DescribeInstancesCommand, ZK_LOOKUP)
      .resolves(
        instances(
          ["i-1", "chat-usa-zk-1", "running"],
          ["i-2", "chat-usa-zk-2", "stopped"],
          ["i-3", "chat-usa-zk-3", "running"],
        ),
      );

    const report = await runAwsDrill("zk-node-loss", opts());

    expect(sent().map((c) => c.command)).toEqual(["DescribeInstances"]);
    expect(report.failures[0]).toMatch(/chat-usa-zk-2 \(stopped\).*lose the quorum/);
  });

  it("starts the instance when StopInstances fails", async () => {
    ec2
      .on(DescribeInstancesCommand, { InstanceIds: ["i-9"] })
      .resolves(instances(["i-9", "zk", "running"]));
    ec2.on(StopInstancesCommand).rejects(new Error("UnauthorizedOperation"));
    ec2.on(StartInstancesCommand).resolves({});

    const report = await runAwsDrill("zk-node-loss", opts({ "instance-id": "i-9" }));

    expect(sent().map((c) => [c.command, c.input])).toEqual([
      ["DescribeInstances", { InstanceIds: ["i-9"] }],
      ["StopInstances", { InstanceIds: ["i-9"] }],
      ["StartInstances", { InstanceIds: ["i-9"] }],
      ["DescribeInstances", { InstanceIds: ["i-9"] }],
    ]);
    expect(report.failures).toEqual(["fault step failed: UnauthorizedOperation"]);
  });

  it("says how to start it by hand when it never stops", async () => {
    ec2
      .on(DescribeInstancesCommand, { InstanceIds: ["i-9"] })
      .resolvesOnce(instances(["i-9", "zk", "running"]))
      .resolves(instances(["i-9", "zk", "stopping"]));
    ec2.on(StopInstancesCommand).resolves({});
    ec2.on(StartInstancesCommand).resolves({});

    const report = await runAwsDrill("zk-node-loss", opts({ instanceId: "i-9" }));

    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]).toMatch(
      /^rollback failed: i-9 stopped: not reached .*\(last seen: stopping\); by hand: /,
    );
    expect(report.failures[0]).toMatch(
      /aws ec2 start-instances --region us-east-1 --instance-ids i-9$/,
    );
  });
});

describe("observation", () => {
  let server: Server;
  let answered = 0;

  afterAll(() => new Promise((r) => server?.close(r)));

  it("times detection and recovery from the endpoint's probes", async () => {
    // Fails 3 probes after the fault, then answers again.
    server = createServer((_, res) => {
      answered += 1;
      res.writeHead(answered >= 2 && answered <= 4 ? 503 : 200).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    route53.on(GetHealthCheckCommand).resolves({ HealthCheck: {} } as never);
    route53.on(UpdateHealthCheckCommand).resolves({} as never);

    const report = await runAwsDrill(
      "region-outage",
      opts({
        healthCheckId: "hc",
        durationS: 0.5,
        probeMs: 20,
        endpoint: `http://127.0.0.1:${port}/healthz`,
        thresholds: { maxRecoveryP99Ms: 10_000 },
      }),
    );

    expect(report.timeToDetectMs).toBeGreaterThan(0);
    expect(report.recovery!.p99).toBeGreaterThan(report.timeToDetectMs!);
    expect(report.affectedClients).toBe(1);
    expect(report.passed).toBe(true);
    expect(report.steps.map((s) => s.what)).toContain("rollback: starting");
  });
});

describe("options", () => {
  it("takes chatctl drill's flags as they are", () => {
    expect(
      normalizeAwsInput({
        region: "eu",
        duration: "30",
        "settle-timeout": "120",
        "aws-region": "eu-west-1",
        "replication-group": "rg",
        "health-check-id": "hc",
        "instance-id": "i-1",
      }),
    ).toMatchObject({
      region: "eu",
      durationS: 30,
      settleTimeoutS: 120,
      awsRegion: "eu-west-1",
      replicationGroup: "rg",
      healthCheckId: "hc",
      instanceId: "i-1",
    });
  });

  it("rejects conflicting spellings and bad numbers", () => {
    expect(() =>
      normalizeAwsInput({ region: "eu", instanceId: "i-1", "instance-id": "i-2" }),
    ).toThrow(/--instance-id "i-2" conflicts with instanceId "i-1"/);
    expect(() => normalizeAwsInput({ region: "eu", duration: "soon" })).toThrow(
      /--duration must be a number of seconds/,
    );
  });

  it("names an unknown region before any call", async () => {
    await expect(runAwsDrill("wss-crash", opts({ region: "mars" }))).rejects.toThrow(
      /no region "mars".*pass --aws-region/,
    );
    expect(sent()).toEqual([]);
  });
});
