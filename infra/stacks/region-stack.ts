// `chat-<region>`: everything one region runs. Composed from constructs; the only logic
// here is wiring (which output feeds which input) and the app environment contract.
import { TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";

import { AwsProvider } from "../aws.ts";

import type { Deployment, Region, Regions } from "../../regions/schema.ts";
import { AppPlatform } from "../constructs/app-platform.ts";
import { awsAccount } from "../constructs/aws-context.ts";
import { BackboneAttachment } from "../constructs/backbone-attachment.ts";
import { ChatServerService } from "../constructs/chat-server.ts";
import { EncryptionKey } from "../constructs/encryption-key.ts";
import { GlobalLookups } from "../constructs/global-lookups.ts";
import { RegionalNetwork } from "../constructs/network.ts";
import { Redis } from "../constructs/redis.ts";
import { RegionalRouting } from "../constructs/regional-routing.ts";
import { WssFleet } from "../constructs/wss-fleet.ts";
import { ZookeeperEnsemble } from "../constructs/zookeeper.ts";
import {
  DEDUP_TABLE,
  INBOX_TABLE,
  PORTS,
  REGION_TAG,
  csHost,
  regionStackName,
  regionalWsHost,
  wsHost,
} from "../names.ts";
import type { DeploySettings } from "../settings.ts";
import { configureBackend, defaultTags } from "./common.ts";

export interface RegionStackProps {
  /** The region this stack deploys. */
  readonly region: Region;
  /** Every region of the deployment (peers for the backbone and the chat servers). */
  readonly regions: Regions;
  /** Settings every region shares (regions/deployment.json). */
  readonly deployment: Deployment;
  readonly settings: DeploySettings;
}

/** One chat region: network, Redis, ZooKeeper, WSS fleet, chat servers and routing. */
export class RegionStack extends TerraformStack {
  constructor(scope: Construct, props: RegionStackProps) {
    const { region, regions, deployment, settings } = props;
    const name = regionStackName(region.id);
    super(scope, name);

    configureBackend(this, name, settings);
    new AwsProvider(this, "aws", {
      region: region.awsRegion,
      defaultTags: defaultTags(name, { [REGION_TAG]: region.id }),
    });

    const peers = [...regions.values()].filter((r) => r.id !== region.id);
    const global = new GlobalLookups(this, "global", { domain: settings.domain });
    const key = new EncryptionKey(this, "key", {
      alias: name,
      description: `Chat region ${region.id}: Redis, ZooKeeper volumes, Redis AUTH secret`,
    });

    const network = new RegionalNetwork(this, "network", {
      regionId: region.id,
      awsRegion: region.awsRegion,
      cidr: region.cidr,
      azs: region.azs,
    });
    new BackboneAttachment(this, "backbone", {
      regionId: region.id,
      vpcId: network.vpcId,
      subnetIds: network.privateSubnets.map((s) => s.id),
      routeTableIds: network.privateRouteTableIds,
      peerCidrs: peers.map((p) => p.cidr),
    });

    const platform = new AppPlatform(this, "platform", {
      regionId: region.id,
      vpcId: network.vpcId,
    });
    const appGroups = [platform.wssGroup, platform.csGroup];

    const redis = new Redis(this, "redis", {
      regionId: region.id,
      vpcId: network.vpcId,
      subnetIds: network.privateSubnets.map((s) => s.id),
      azNames: network.azNames,
      clientGroups: appGroups,
      kmsKeyArn: key.arn,
      ...region.redis,
    });
    const zookeeper = new ZookeeperEnsemble(this, "zookeeper", {
      regionId: region.id,
      vpcId: network.vpcId,
      subnets: network.privateSubnets,
      ensembleSize: region.zookeeper.ensembleSize as 3 | 5,
      instanceType: region.zookeeper.instanceType,
      // Presence is the WSSs' alone: chat servers publish without reading it.
      clientGroups: [platform.wssGroup],
      kmsKeyArn: key.arn,
    });

    // The environment contract of both apps (see docs/deploy.md).
    const common = {
      regionId: region.id,
      awsRegion: region.awsRegion,
      clusterArn: platform.clusterArn,
      clusterName: platform.clusterName,
      secretKeyArns: [key.arn],
      tableArns: tableArns(this, regions, settings),
    };
    const sharedEnvironment = {
      CHAT_REGION: region.id,
      CHAT_REDIS_URL: redis.url,
      CHAT_REDIS_CLUSTER: String(redis.clusterMode),
      CHAT_INBOX_TABLE: INBOX_TABLE,
      CHAT_DEDUP_TABLE: DEDUP_TABLE,
      CHAT_FANOUT: deployment.fanout,
      AWS_REGION: region.awsRegion,
    };
    const sharedSecrets = {
      CHAT_REDIS_PASSWORD: redis.authSecretArn,
      CHAT_JWT_SECRET: global.jwtSecretArn,
    };
    const csUrl = (regionId: string) => `https://${csHost(regionId, settings.domain)}`;

    const chatServer = new ChatServerService(this, "chat-server", {
      ...common,
      ...region.chatServer,
      vpcId: network.vpcId,
      privateSubnetIds: network.privateSubnets.map((s) => s.id),
      taskGroup: platform.csGroup,
      callerGroups: [platform.wssGroup],
      peerCidrs: peers.map((p) => p.cidr),
      certificateArn: global.certificateArn,
      image: `${global.chatServerRepositoryUrl}:${settings.imageTag}`,
      environment: {
        ...sharedEnvironment,
        CHAT_PORT: String(PORTS.chatServer),
        CHAT_CS_PEERS: JSON.stringify(
          Object.fromEntries(peers.map((p) => [p.id, csUrl(p.id)])),
        ),
      },
      secrets: { ...sharedSecrets, CHAT_INTERNAL_SECRET: global.internalSecretArn },
    });
    const wss = new WssFleet(this, "wss", {
      ...common,
      ...region.wss,
      vpcId: network.vpcId,
      publicSubnetIds: network.publicSubnetIds,
      privateSubnetIds: network.privateSubnets.map((s) => s.id),
      taskGroup: platform.wssGroup,
      certificateArn: global.certificateArn,
      clientCidrs: settings.wssClientCidrs,
      image: `${global.wssRepositoryUrl}:${settings.imageTag}`,
      environment: {
        ...sharedEnvironment,
        CHAT_PORT: String(PORTS.wss),
        CHAT_ZK_CONNECT: zookeeper.connectString,
        CHAT_CS_URL: csUrl(region.id),
      },
      secrets: sharedSecrets,
    });

    new RegionalRouting(this, "routing", {
      regionId: region.id,
      awsRegion: region.awsRegion,
      domain: settings.domain,
      zoneId: global.zoneId,
      wss: { dnsName: wss.loadBalancerDnsName, zoneId: wss.loadBalancerZoneId },
      chatServer: {
        dnsName: chatServer.loadBalancerDnsName,
        zoneId: chatServer.loadBalancerZoneId,
      },
    });

    // TODO(#4): CloudWatch alarms (Redis memory, ZooKeeper quorum, 5xx, unhealthy
    // targets); today only the Route 53 health check notices a failing region.
    new TerraformOutput(this, "websocket_url", {
      value: `wss://${wsHost(settings.domain)}/v1/ws`,
    });
    new TerraformOutput(this, "regional_websocket_url", {
      value: `wss://${regionalWsHost(region.id, settings.domain)}/v1/ws`,
    });
    new TerraformOutput(this, "chat_server_url", { value: csUrl(region.id) });
    new TerraformOutput(this, "zookeeper_connect", { value: zookeeper.connectString });
    new TerraformOutput(this, "redis_url", { value: redis.url });
  }
}

/** ARNs of the inbox and dedup tables in every AWS region that holds a replica. */
function tableArns(
  scope: Construct,
  regions: Regions,
  settings: DeploySettings,
): string[] {
  const { accountId, partition } = awsAccount(scope);
  const awsRegions = new Set([
    settings.primaryAwsRegion,
    ...[...regions.values()].map((r) => r.awsRegion),
  ]);
  return [...awsRegions]
    .sort()
    .flatMap((awsRegion) =>
      [INBOX_TABLE, DEDUP_TABLE].map(
        (table) => `arn:${partition}:dynamodb:${awsRegion}:${accountId}:table/${table}`,
      ),
    );
}
