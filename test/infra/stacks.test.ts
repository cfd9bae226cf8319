// The shape of the deployment: which stacks exist, that every region is in them, that a
// new region file changes the deployment with no code change, the app environment
// contract, and the state backend.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { beforeAll, describe, expect, it } from "vitest";

import { loadDeployment, loadRegions } from "../../regions/schema.ts";
import type { StackJson, Synthesized } from "./support/synth.ts";
import { EXTRA_REGION, dataOf, resourcesOf, synthDeployment } from "./support/synth.ts";

const regions = [...loadRegions().values()];

let base: Synthesized;
let grown: Synthesized;

beforeAll(() => {
  base = synthDeployment();
  grown = synthDeployment({ extraRegions: { [EXTRA_REGION.id]: EXTRA_REGION } });
}, 60_000);

interface Container {
  environment: { name: string; value: string }[];
  secrets: { name: string; valueFrom: string }[];
  portMappings: { containerPort: number }[];
}

function containers(stack: StackJson): Map<string, Container> {
  return new Map(
    resourcesOf(stack, "aws_ecs_task_definition").map((task) => {
      const [container] = JSON.parse(
        task.container_definitions as string,
      ) as (Container & {
        name: string;
      })[];
      return [container!.name, container!];
    }),
  );
}

const envOf = (c: Container) =>
  Object.fromEntries(c.environment.map((e) => [e.name, e.value]));

describe("stacks", () => {
  it("are chat-global and one chat-<id> per region file", () => {
    expect([...base.stacks.keys()].sort()).toEqual(
      ["chat-global", ...regions.map((r) => `chat-${r.id}`)].sort(),
    );
    expect([...base.stacks.keys()]).toEqual(
      expect.arrayContaining(["chat-usa", "chat-eu"]),
    );
  });

  it.each(regions)("put region $id in its AWS region with its CIDR", (region) => {
    const stack = base.stacks.get(`chat-${region.id}`)!;
    expect(stack.provider.aws).toHaveLength(1);
    expect(stack.provider.aws[0]).toMatchObject({ region: region.awsRegion });
    expect(resourcesOf(stack, "aws_vpc")).toEqual([
      expect.objectContaining({ cidr_block: region.cidr }),
    ]);
    const latency = resourcesOf(stack, "aws_route53_record").find(
      (r) => r.set_identifier,
    );
    expect(latency).toMatchObject({
      name: "ws.chat.example.com",
      set_identifier: region.id,
      latency_routing_policy: { region: region.awsRegion },
      health_check_id: expect.stringMatching(/aws_route53_health_check/),
    });
    expect(resourcesOf(stack, "aws_route53_health_check")).toEqual([
      expect.objectContaining({
        type: "HTTPS",
        fqdn: `${region.id}.ws.chat.example.com`,
        resource_path: "/healthz",
      }),
    ]);
  });

  it("give chat-global a provider, a transit gateway and a replica for every region", () => {
    const global = base.stacks.get("chat-global")!;
    const providerRegions = global.provider.aws.map((p) => p.region);
    for (const region of regions) expect(providerRegions).toContain(region.awsRegion);
    const gateways = resourcesOf(global, "aws_ec2_transit_gateway");
    expect(
      gateways.map((g) => (g.tags as Record<string, string>)["chat:region"]).sort(),
    ).toEqual(regions.map((r) => r.id).sort());
  });
});

describe("adding a region file", () => {
  const added = () => grown.stacks.get(`chat-${EXTRA_REGION.id}`)!;

  it("adds its stack", () => {
    expect([...grown.stacks.keys()].sort()).toEqual(
      [
        "chat-global",
        `chat-${EXTRA_REGION.id}`,
        ...regions.map((r) => `chat-${r.id}`),
      ].sort(),
    );
    expect(added().provider.aws[0]).toMatchObject({ region: EXTRA_REGION.awsRegion });
  });

  it("adds its inbox and dedup replicas, keys, repositories and certificate", () => {
    const global = grown.stacks.get("chat-global")!;
    for (const table of resourcesOf(global, "aws_dynamodb_table")) {
      const replicaRegions = (table.replica as { region_name: string }[]).map(
        (r) => r.region_name,
      );
      expect(replicaRegions).toContain(EXTRA_REGION.awsRegion);
    }
    const alias = EXTRA_REGION.awsRegion.replace(/-/g, "_");
    expect(global.provider.aws.map((p) => p.alias)).toContain(alias);
    const inRegion = (type: string) =>
      resourcesOf(global, type).filter((r) => r.provider === `aws.${alias}`).length;
    expect(inRegion("aws_kms_key")).toBe(1);
    expect(inRegion("aws_ecr_repository")).toBe(2);
    expect(inRegion("aws_acm_certificate")).toBe(1);
    expect(inRegion("aws_ec2_transit_gateway")).toBe(1);
    const secrets = resourcesOf(global, "aws_secretsmanager_secret");
    for (const secret of secrets) {
      expect((secret.replica as { region: string }[]).map((r) => r.region)).toContain(
        EXTRA_REGION.awsRegion,
      );
    }
  });

  it("adds its routing records and peers it with every region", () => {
    const records = resourcesOf(added(), "aws_route53_record");
    expect(records.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        "ws.chat.example.com",
        `${EXTRA_REGION.id}.ws.chat.example.com`,
        `${EXTRA_REGION.id}.cs.chat.example.com`,
      ]),
    );
    const peerings = resourcesOf(
      grown.stacks.get("chat-global")!,
      "aws_ec2_transit_gateway_peering_attachment",
    );
    expect(peerings).toHaveLength(((regions.length + 1) * regions.length) / 2);

    for (const region of regions) {
      const stack = grown.stacks.get(`chat-${region.id}`)!;
      const routes = resourcesOf(stack, "aws_route").map((r) => r.destination_cidr_block);
      expect(routes).toContain(EXTRA_REGION.cidr);
      const peers = JSON.parse(
        envOf(containers(stack).get("cs")!).CHAT_CS_PEERS!,
      ) as object;
      expect(peers).toHaveProperty(
        EXTRA_REGION.id,
        `https://${EXTRA_REGION.id}.cs.chat.example.com`,
      );
    }
  });
});

describe("synth warnings", () => {
  it("name a region whose ZooKeeper majority shares one AZ", () => {
    const twoAzs = { ...EXTRA_REGION, id: "sa", awsRegion: "sa-east-1", azs: 2 };
    twoAzs.zookeeper = { ensembleSize: 3, instanceType: "t3.small" };
    const synth = synthDeployment({ extraRegions: { sa: twoAzs } });
    const manifest = JSON.parse(
      readFileSync(join(synth.outdir, "manifest.json"), "utf8"),
    ) as {
      stacks: Record<string, { annotations: { level: string; message: string }[] }>;
    };
    expect(manifest.stacks["chat-sa"]!.annotations).toContainEqual(
      expect.objectContaining({
        level: "@cdktf/warn",
        message: expect.stringMatching(/2 of 3 ZooKeeper servers share one AZ/),
      }),
    );
    expect(manifest.stacks["chat-usa"]!.annotations).toEqual([]);
  });
});

describe("the app environment", () => {
  it.each(regions)("of region $id follows the WSS and CS contract", (region) => {
    const stack = base.stacks.get(`chat-${region.id}`)!;
    const apps = containers(stack);
    const wss = apps.get("wss")!;
    const cs = apps.get("cs")!;
    const common = [
      "CHAT_REGION",
      "CHAT_PORT",
      "CHAT_REDIS_URL",
      "CHAT_INBOX_TABLE",
      "CHAT_DEDUP_TABLE",
      "CHAT_FANOUT",
      "AWS_REGION",
    ];
    expect(Object.keys(envOf(wss))).toEqual(
      expect.arrayContaining([...common, "CHAT_ZK_CONNECT", "CHAT_CS_URL"]),
    );
    expect(Object.keys(envOf(cs))).toEqual(
      expect.arrayContaining([...common, "CHAT_CS_PEERS"]),
    );
    // Presence is read by no chat server.
    expect(envOf(cs).CHAT_ZK_CONNECT).toBeUndefined();
    expect(wss.secrets.map((s) => s.name).sort()).toEqual([
      "CHAT_JWT_SECRET",
      "CHAT_REDIS_PASSWORD",
    ]);
    expect(cs.secrets.map((s) => s.name).sort()).toEqual([
      "CHAT_INTERNAL_SECRET",
      "CHAT_JWT_SECRET",
      "CHAT_REDIS_PASSWORD",
    ]);

    expect(envOf(wss)).toMatchObject({
      CHAT_REGION: region.id,
      CHAT_PORT: "8080",
      AWS_REGION: region.awsRegion,
      CHAT_INBOX_TABLE: "chat-inbox",
      CHAT_DEDUP_TABLE: "chat-dedup",
      CHAT_FANOUT: loadDeployment().fanout,
      CHAT_CS_URL: `https://${region.id}.cs.chat.example.com`,
    });
    expect(envOf(cs).CHAT_PORT).toBe("8081");
    expect(wss.portMappings[0]!.containerPort).toBe(8080);
    expect(cs.portMappings[0]!.containerPort).toBe(8081);
    expect(envOf(wss).CHAT_REDIS_URL).toMatch(
      /^rediss:\/\/\$\{aws_elasticache_replication_group\.[^}]+\}:6379$/,
    );

    const zk = envOf(wss).CHAT_ZK_CONNECT!.split(",");
    expect(zk).toHaveLength(region.zookeeper.ensembleSize);
    for (const node of zk) expect(node).toMatch(/^10\.\d+\.\d+\.\d+:2181$/);

    const peers = JSON.parse(envOf(cs).CHAT_CS_PEERS!) as Record<string, string>;
    expect(Object.keys(peers).sort()).toEqual(
      regions
        .filter((r) => r.id !== region.id)
        .map((r) => r.id)
        .sort(),
    );
  });

  it("runs the images of the configured tag from the region's own ECR", () => {
    const tagged = synthDeployment({ env: { CHAT_IMAGE_TAG: "git-0123abc" } });
    const stack = tagged.stacks.get("chat-usa")!;
    for (const container of containers(stack).values()) {
      const image = (container as Container & { image: string }).image;
      expect(image).toMatch(
        /^\$\{data\.aws_ecr_repository\.[^}]+\.repository_url\}:git-0123abc$/,
      );
    }
    expect(
      dataOf(stack, "aws_ecr_repository")
        .map((r) => r.name)
        .sort(),
    ).toEqual(["chat/chat-server", "chat/wss"]);
  });
});

describe("state", () => {
  it("is local by default", () => {
    for (const stack of base.stacks.values()) {
      expect(Object.keys(stack.terraform.backend ?? { local: {} })).toEqual(["local"]);
    }
  });

  it("goes to S3 with one key and a native lock file per stack when a bucket is set", () => {
    const s3 = synthDeployment({
      env: { CHAT_STATE_BUCKET: "acme-chat-state", CHAT_STATE_KEY_PREFIX: "prod/chat" },
    });
    const keys = new Set<string>();
    for (const [name, stack] of s3.stacks) {
      const backend = stack.terraform.backend!.s3!;
      expect(backend).toMatchObject({
        bucket: "acme-chat-state",
        key: `prod/chat/${name}.tfstate`,
        region: "us-east-1",
        encrypt: true,
        use_lockfile: true,
      });
      expect(backend.dynamodb_table).toBeUndefined();
      keys.add(backend.key as string);
    }
    expect(keys.size).toBe(s3.stacks.size);
  });

  it("locks with a DynamoDB table instead when one is named", () => {
    const s3 = synthDeployment({
      env: {
        CHAT_STATE_BUCKET: "acme-chat-state",
        CHAT_STATE_REGION: "eu-west-1",
        CHAT_STATE_LOCK_TABLE: "chat-terraform-locks",
      },
    });
    const backend = s3.stacks.get("chat-eu")!.terraform.backend!.s3!;
    expect(backend).toMatchObject({
      key: "chat/chat-eu.tfstate",
      region: "eu-west-1",
      dynamodb_table: "chat-terraform-locks",
    });
    expect(backend.use_lockfile).toBeUndefined();
  });
});
