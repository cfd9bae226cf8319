// Matcher tests of the synthesized region and global stacks: encryption, Multi-AZ,
// spread over AZs, and no path from the internet to Redis or ZooKeeper.
import { Testing } from "cdktf";
import { beforeAll, describe, expect, it } from "vitest";

import {
  DynamodbTable,
  ElasticacheReplicationGroup,
  Lb,
  LbListener,
  LbTargetGroup,
} from "../../infra/aws.ts";

import { azNames } from "../../infra/net-math.ts";
import { loadRegions } from "../../regions/schema.ts";
import type { Region } from "../../regions/schema.ts";
import "./support/matchers.ts";
import type { StackJson, Synthesized } from "./support/synth.ts";
import {
  EXTRA_REGION,
  dataOf,
  referenceTo,
  resourcesOf,
  synthDeployment,
} from "./support/synth.ts";

const regions = [...loadRegions().values()];

let base: Synthesized;
let grown: Synthesized;

beforeAll(() => {
  base = synthDeployment();
  grown = synthDeployment({ extraRegions: { [EXTRA_REGION.id]: EXTRA_REGION } });
}, 60_000);

const regionStack = (id: string, from: Synthesized = base) =>
  from.stacks.get(`chat-${id}`)!;
const synthOf = (id: string) => Testing.synth(base.chat.regionStacks.get(id)!);

describe.each(regions)("region $id", (region: Region) => {
  it("encrypts Redis in transit and at rest with the region's KMS key", () => {
    expect(synthOf(region.id)).toHaveResourceWithProperties(ElasticacheReplicationGroup, {
      transit_encryption_enabled: true,
      transit_encryption_mode: "required",
      at_rest_encryption_enabled: "true",
      kms_key_id: expect.stringMatching(/^\$\{aws_kms_key\..+\.arn\}$/),
      auth_token: expect.stringMatching(/^\$\{aws_secretsmanager_secret_version\./),
    });
  });

  it("runs Redis Multi-AZ with automatic failover, nodes in distinct AZs", () => {
    const [redis] = resourcesOf(
      regionStack(region.id),
      "aws_elasticache_replication_group",
    );
    expect(redis).toMatchObject({
      multi_az_enabled: true,
      automatic_failover_enabled: true,
    });
    if (!region.redis.clusterMode) {
      const azs = redis!.preferred_cache_cluster_azs as string[];
      expect(azs).toHaveLength(1 + region.redis.replicasPerShard);
      expect(new Set(azs).size).toBe(Math.min(azs.length, region.azs));
    }
  });

  it("gives pub/sub subscribers larger output buffers on a Redis 7 parameter group", () => {
    const [group] = resourcesOf(
      regionStack(region.id),
      "aws_elasticache_parameter_group",
    );
    expect(group!.family).toBe("redis7");
    const params = Object.fromEntries(
      (group!.parameter as { name: string; value: string }[]).map((p) => [
        p.name,
        p.value,
      ]),
    );
    expect(
      Number(params["client-output-buffer-limit-pubsub-hard-limit"]),
    ).toBeGreaterThan(32 * 1024 * 1024);
    expect(params["maxmemory-policy"]).toBe("noeviction");
  });

  it("admits no CIDR into Redis or ZooKeeper, only app task groups (ZooKeeper: WSSs only)", () => {
    const stack = regionStack(region.id);
    const guarded = [
      referenceTo(stack, "aws_security_group", "/redis/sg"),
      referenceTo(stack, "aws_security_group", "/zookeeper/sg"),
    ].map((ref) => `\${${ref}.id}`);
    const appGroups = [
      referenceTo(stack, "aws_security_group", `/platform/chat-${region.id}-wss`),
      referenceTo(stack, "aws_security_group", `/platform/chat-${region.id}-cs`),
    ].map((ref) => `\${${ref}.id}`);

    const rules = resourcesOf(stack, "aws_vpc_security_group_ingress_rule").filter((r) =>
      guarded.includes(r.security_group_id as string),
    );
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.cidr_ipv4).toBeUndefined();
      expect(rule.cidr_ipv6).toBeUndefined();
      expect(rule.prefix_list_id).toBeUndefined();
      const source = rule.referenced_security_group_id as string;
      const isQuorum = rule.from_port === 2888 || rule.from_port === 3888;
      if (isQuorum) expect(source).toBe(rule.security_group_id);
      else if (rule.security_group_id === guarded[1]) expect(source).toBe(appGroups[0]);
      else expect(appGroups).toContain(source);
    }
    for (const group of resourcesOf(stack, "aws_security_group")) {
      expect(group.ingress, `inline ingress on ${String(group.name)}`).toBeUndefined();
    }
    expect(JSON.stringify(stack.resource.aws_security_group_rule ?? {})).toBe("{}");
  });

  it("spreads ZooKeeper over distinct AZs with fixed addresses and encrypted data", () => {
    const stack = regionStack(region.id);
    const volumes = resourcesOf(stack, "aws_ebs_volume");
    expect(volumes).toHaveLength(region.zookeeper.ensembleSize);
    const zones = volumes.map((v) => v.availability_zone as string);
    expect(new Set(zones).size).toBe(Math.min(region.azs, region.zookeeper.ensembleSize));
    for (const volume of volumes) {
      expect(volume).toMatchObject({ encrypted: true, type: "gp3" });
      expect(volume.kms_key_id).toMatch(/aws_kms_key/);
    }
    const ips = resourcesOf(stack, "aws_network_interface").map((e) => e.private_ips);
    expect(new Set(ips.flat()).size).toBe(region.zookeeper.ensembleSize);
    for (const instance of resourcesOf(stack, "aws_instance")) {
      expect(instance).toMatchObject({
        instance_type: region.zookeeper.instanceType,
        metadata_options: { http_tokens: "required" },
        root_block_device: { encrypted: true },
      });
    }
    expect(resourcesOf(stack, "aws_ec2_subnet_cidr_reservation")[0]).toMatchObject({
      reservation_type: "explicit",
    });
  });

  it("spreads subnets over the region's AZs", () => {
    const zones = resourcesOf(regionStack(region.id), "aws_subnet").map(
      (s) => s.availability_zone,
    );
    const expected = azNames(region.awsRegion, region.azs);
    expect(zones.filter((z, i) => zones.indexOf(z) === i).sort()).toEqual(expected);
    expect(zones).toHaveLength(2 * region.azs);
  });

  it("serves WebSockets through a TLS NLB listener that drains for minutes", () => {
    const synth = synthOf(region.id);
    expect(synth).toHaveResourceWithProperties(Lb, {
      load_balancer_type: "network",
      internal: false,
    });
    expect(synth).toHaveResourceWithProperties(LbListener, {
      protocol: "TLS",
      port: 443,
      ssl_policy: expect.stringMatching(/TLS13/),
    });
    expect(synth).toHaveResourceWithProperties(LbTargetGroup, {
      port: 8080,
      protocol: "TCP",
      deregistration_delay: "300",
      health_check: expect.objectContaining({ path: "/healthz", protocol: "HTTP" }),
    });
  });

  it("keeps the chat server behind an internal HTTPS load balancer", () => {
    const synth = synthOf(region.id);
    expect(synth).toHaveResourceWithProperties(Lb, {
      load_balancer_type: "application",
      internal: true,
    });
    expect(synth).toHaveResourceWithProperties(LbListener, { protocol: "HTTPS" });
  });

  it("scales each service between the region file's task counts", () => {
    const targets = resourcesOf(regionStack(region.id), "aws_appautoscaling_target").map(
      (t) => [t.min_capacity, t.max_capacity],
    );
    expect(targets).toContainEqual([region.wss.minTasks, region.wss.maxTasks]);
    expect(targets).toContainEqual([
      region.chatServer.minTasks,
      region.chatServer.maxTasks,
    ]);
  });

  it("passes secrets only through the task definition's secrets", () => {
    for (const task of resourcesOf(regionStack(region.id), "aws_ecs_task_definition")) {
      const [container] = JSON.parse(task.container_definitions as string) as {
        environment: { name: string }[];
        secrets: { name: string; valueFrom: string }[];
      }[];
      const envNames = container!.environment.map((e) => e.name);
      expect(envNames.filter((n) => /SECRET|PASSWORD/.test(n))).toEqual([]);
      expect(container!.secrets.map((s) => s.name)).toEqual(
        expect.arrayContaining(["CHAT_REDIS_PASSWORD", "CHAT_JWT_SECRET"]),
      );
    }
  });

  it("lets tasks use only the inbox and dedup tables (every replica)", () => {
    const stack = regionStack(region.id);
    const policies = resourcesOf(stack, "aws_iam_role_policy")
      .map(
        (p) =>
          JSON.parse(p.policy as string) as {
            Statement: { Action: unknown; Resource: unknown }[];
          },
      )
      .filter((p) => JSON.stringify(p).includes("dynamodb:"));
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      for (const statement of policy.Statement) {
        const resources = statement.Resource as string[];
        for (const arn of resources) expect(arn).toMatch(/:table\/chat-(inbox|dedup)$/);
        for (const r of regions) {
          expect(resources.some((arn) => arn.includes(`:dynamodb:${r.awsRegion}:`))).toBe(
            true,
          );
        }
      }
    }
  });
});

describe("chat-global", () => {
  const global = (): StackJson => base.stacks.get("chat-global")!;

  it("keeps inbox and dedup in KMS-encrypted, PITR, on-demand global tables", () => {
    const synth = Testing.synth(base.chat.globalStack);
    for (const [name, hash] of [
      ["chat-inbox", "user"],
      ["chat-dedup", "k"],
    ]) {
      expect(synth).toHaveResourceWithProperties(DynamodbTable, {
        name,
        hash_key: hash,
        billing_mode: "PAY_PER_REQUEST",
        point_in_time_recovery: { enabled: true },
        server_side_encryption: {
          enabled: true,
          kms_key_arn: expect.stringMatching(/aws_kms_key/),
        },
        stream_enabled: true,
        stream_view_type: "NEW_AND_OLD_IMAGES",
        ttl: { attribute_name: "expiresAt", enabled: true },
      });
    }
    const [inbox] = resourcesOf(global(), "aws_dynamodb_table").filter(
      (t) => t.name === "chat-inbox",
    );
    expect(inbox!.range_key).toBe("seq");
    expect(inbox!.attribute).toEqual(
      expect.arrayContaining([
        { name: "user", type: "S" },
        { name: "seq", type: "N" },
      ]),
    );
  });

  it("replicates both tables into every region, each replica with its own key and PITR", () => {
    const primary = base.chat.settings.primaryAwsRegion;
    const expected = [...new Set(regions.map((r) => r.awsRegion))].filter(
      (r) => r !== primary,
    );
    for (const table of resourcesOf(global(), "aws_dynamodb_table")) {
      const replicas = table.replica as Record<string, unknown>[];
      expect(replicas.map((r) => r.region_name).sort()).toEqual(expected.sort());
      for (const replica of replicas) {
        expect(replica).toMatchObject({ point_in_time_recovery: true });
        expect(replica.kms_key_arn).toMatch(/aws_kms_key/);
      }
    }
  });

  it("rotates every KMS key it creates", () => {
    for (const stack of base.stacks.values()) {
      for (const key of resourcesOf(stack, "aws_kms_key")) {
        expect(key.enable_key_rotation).toBe(true);
      }
    }
  });

  it("keeps image tags immutable and scans pushed images", () => {
    for (const repository of resourcesOf(global(), "aws_ecr_repository")) {
      expect(repository).toMatchObject({
        image_tag_mutability: "IMMUTABLE",
        image_scanning_configuration: { scan_on_push: true },
      });
    }
  });

  it("looks nothing up that a region stack creates", () => {
    expect(dataOf(global(), "aws_lb")).toEqual([]);
    expect(dataOf(global(), "aws_vpc")).toEqual([]);
  });
});

describe("an added region", () => {
  it("spreads a 5-server ensemble so that no AZ holds a majority", () => {
    const stack = regionStack(EXTRA_REGION.id, grown);
    const zones = resourcesOf(stack, "aws_ebs_volume").map(
      (v) => v.availability_zone as string,
    );
    const counts = zones.reduce<Record<string, number>>(
      (acc, z) => ({ ...acc, [z]: (acc[z] ?? 0) + 1 }),
      {},
    );
    expect(Math.max(...Object.values(counts))).toBeLessThanOrEqual(2);
  });

  it("runs Redis in cluster mode when its region file asks for it", () => {
    const [redis] = resourcesOf(
      regionStack(EXTRA_REGION.id, grown),
      "aws_elasticache_replication_group",
    );
    expect(redis).toMatchObject({
      cluster_mode: "enabled",
      num_node_groups: EXTRA_REGION.redis.shards,
      replicas_per_node_group: EXTRA_REGION.redis.replicasPerShard,
      multi_az_enabled: true,
    });
    const [group] = resourcesOf(
      regionStack(EXTRA_REGION.id, grown),
      "aws_elasticache_parameter_group",
    );
    expect(group!.parameter).toContainEqual({ name: "cluster-enabled", value: "yes" });
  });
});
