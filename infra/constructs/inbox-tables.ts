// The inbox store: two DynamoDB global tables (inbox and dedup) with a replica in every
// AWS region the deployment uses, each replica encrypted with a key of its own region.
import { Construct } from "constructs";

import { DynamodbTable } from "../aws.ts";

import { DEDUP_TABLE, INBOX_TABLE } from "../names.ts";
import { EncryptionKey } from "./encryption-key.ts";
import type { RegionalProvider } from "./regional-providers.ts";

export interface InboxTablesProps {
  /** Region of the tables' first copy (the global stack's default provider). */
  readonly primary: RegionalProvider;
  /** Every other AWS region that runs a chat region; each gets a replica. */
  readonly replicas: readonly RegionalProvider[];
  /**
   * Name of the inbox table (hash `user` S, range `seq` N).
   * @default "chat-inbox"
   */
  readonly inboxTableName?: string;
  /**
   * Name of the dedup table (hash `k` S).
   * @default "chat-dedup"
   */
  readonly dedupTableName?: string;
  /**
   * Refuse DeleteTable until this is turned off.
   * @default true
   */
  readonly deletionProtection?: boolean;
}

const DEFAULTS = Object.freeze({
  inboxTableName: INBOX_TABLE,
  dedupTableName: DEDUP_TABLE,
  deletionProtection: true,
});

/** The TTL attribute of both tables: epoch seconds after which DynamoDB deletes an item. */
const TTL_ATTRIBUTE = "expiresAt";

/** DynamoDB global tables with PITR, KMS encryption and on-demand billing. */
export class InboxTables extends Construct {
  readonly inboxTableName: string;
  readonly dedupTableName: string;

  constructor(scope: Construct, id: string, props: InboxTablesProps) {
    super(scope, id);

    const regions = [props.primary, ...props.replicas];
    const keys = new Map(
      regions.map((r) => [
        r.awsRegion,
        new EncryptionKey(this, `key-${r.awsRegion}`, {
          alias: "chat-inbox",
          description: `Chat inbox and dedup tables (${r.awsRegion} replica)`,
          provider: r.provider,
        }),
      ]),
    );
    const keyOf = (awsRegion: string) => keys.get(awsRegion)!.arn;

    const table = (logicalId: string, name: string, keySchema: KeySchema) =>
      new DynamodbTable(this, logicalId, {
        provider: props.primary.provider,
        name,
        billingMode: "PAY_PER_REQUEST",
        hashKey: keySchema.hash.name,
        rangeKey: keySchema.range?.name,
        attribute: [keySchema.hash, ...(keySchema.range ? [keySchema.range] : [])],
        ttl: { attributeName: TTL_ATTRIBUTE, enabled: true },
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: {
          enabled: true,
          kmsKeyArn: keyOf(props.primary.awsRegion),
        },
        // Global tables replicate through the stream; it must carry both images.
        streamEnabled: true,
        streamViewType: "NEW_AND_OLD_IMAGES",
        deletionProtectionEnabled:
          props.deletionProtection ?? DEFAULTS.deletionProtection,
        replica: props.replicas.map((r) => ({
          regionName: r.awsRegion,
          kmsKeyArn: keyOf(r.awsRegion),
          pointInTimeRecovery: true,
          propagateTags: true,
        })),
        tags: { Name: name },
      });

    const inbox = table("inbox", props.inboxTableName ?? DEFAULTS.inboxTableName, {
      hash: { name: "user", type: "S" },
      range: { name: "seq", type: "N" },
    });
    const dedup = table("dedup", props.dedupTableName ?? DEFAULTS.dedupTableName, {
      hash: { name: "k", type: "S" },
    });
    this.inboxTableName = inbox.name;
    this.dedupTableName = dedup.name;
  }
}

interface KeySchema {
  readonly hash: { name: string; type: "S" | "N" };
  readonly range?: { name: string; type: "S" | "N" };
}
