// `chat-global`: what spans regions or must exist before any region is deployed. It has
// one AWS provider per AWS region of the deployment, so a new region file adds that
// region's inbox replica, image repositories, certificate, secret replicas and
// transit gateway here, with no code change.
import { TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";

import { AwsProvider, DataAwsRoute53Zone } from "../aws.ts";

import type { Regions } from "../../regions/schema.ts";
import { EndpointCertificates } from "../constructs/endpoint-certificates.ts";
import { ImageRepositories } from "../constructs/image-repositories.ts";
import { InboxTables } from "../constructs/inbox-tables.ts";
import type { RegionalProvider } from "../constructs/regional-providers.ts";
import { SharedSecrets } from "../constructs/shared-secrets.ts";
import { TransitBackbone } from "../constructs/transit-backbone.ts";
import {
  GLOBAL_STACK_NAME,
  REPOSITORIES,
  SHARED_SECRETS,
  providerAlias,
} from "../names.ts";
import type { DeploySettings } from "../settings.ts";
import { configureBackend, defaultTags } from "./common.ts";

export interface GlobalStackProps {
  /** Every region of the deployment. */
  readonly regions: Regions;
  readonly settings: DeploySettings;
}

/** Inbox tables, shared secrets, image repositories, certificates and the backbone. */
export class GlobalStack extends TerraformStack {
  constructor(scope: Construct, props: GlobalStackProps) {
    const { regions, settings } = props;
    super(scope, GLOBAL_STACK_NAME);

    configureBackend(this, GLOBAL_STACK_NAME, settings);
    const primary: RegionalProvider = {
      awsRegion: settings.primaryAwsRegion,
      provider: new AwsProvider(this, "aws", {
        region: settings.primaryAwsRegion,
        defaultTags: defaultTags(GLOBAL_STACK_NAME),
      }),
    };
    const others: RegionalProvider[] = [
      ...new Set([...regions.values()].map((r) => r.awsRegion)),
    ]
      .filter((awsRegion) => awsRegion !== settings.primaryAwsRegion)
      .sort()
      .map((awsRegion) => ({
        awsRegion,
        provider: new AwsProvider(this, `aws-${awsRegion}`, {
          region: awsRegion,
          alias: providerAlias(awsRegion),
          defaultTags: defaultTags(GLOBAL_STACK_NAME),
        }),
      }));
    const providerOf = (awsRegion: string) =>
      [primary, ...others].find((p) => p.awsRegion === awsRegion)!.provider;

    const tables = new InboxTables(this, "inbox", { primary, replicas: others });
    new SharedSecrets(this, "secrets", {
      primary,
      replicaRegions: others.map((o) => o.awsRegion),
      secrets: {
        [SHARED_SECRETS.jwt]: "HMAC key that verifies client JWTs (CHAT_JWT_SECRET)",
        [SHARED_SECRETS.internal]:
          "Authenticates calls between chat servers (CHAT_INTERNAL_SECRET)",
      },
    });
    new ImageRepositories(this, "images", {
      regions: [primary, ...others],
      names: Object.values(REPOSITORIES),
    });

    const zone = new DataAwsRoute53Zone(this, "zone", {
      name: settings.domain,
      privateZone: false,
    });
    new EndpointCertificates(this, "certificates", {
      domain: settings.domain,
      zoneId: zone.zoneId,
      primary,
      others,
    });
    new TransitBackbone(this, "backbone", {
      regions: [...regions.values()].map((r) => ({
        id: r.id,
        cidr: r.cidr,
        awsRegion: r.awsRegion,
        provider: providerOf(r.awsRegion),
      })),
    });

    new TerraformOutput(this, "inbox_table", { value: tables.inboxTableName });
    new TerraformOutput(this, "dedup_table", { value: tables.dedupTableName });
    new TerraformOutput(this, "aws_regions", {
      value: [primary, ...others].map((p) => p.awsRegion),
    });
  }
}
