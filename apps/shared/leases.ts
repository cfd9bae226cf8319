// Region leases: which region sequences (and serves) each region's users.
// Normally a region holds its own lease; when it fails, the next region takes
// it over with a higher epoch once it has expired, and hands it back when the
// home region is healthy again. A chat server appends only under a lease it
// holds and that is still valid by its own clock, so two regions never hand
// out sequences for the same users at the same time. Leases are items of the
// control table (the dedup table), key `lease|<region>`.
//
// TODO(#6): with a global table each region renews in its own replica, so a
// region cut off from the others keeps serving its users while another may
// take its lease over: a split-brain window for that region's users for as
// long as the partition lasts. A lease item with multi-region strong
// consistency (or a quorum of regions) would close it.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";

export interface Lease {
  readonly region: string;
  readonly owner: string;
  readonly epoch: number;
  /** Epoch milliseconds until which the owner may act. */
  readonly until: number;
}

export interface LeaseOptions {
  /** The control table. @default "chat-dedup" */
  readonly table?: string;
  /** How long a renewal lasts. @default 10000 */
  readonly leaseMs?: number;
}

const DEFAULTS = Object.freeze({ table: "chat-dedup", leaseMs: 10_000 });

export class RegionLeases {
  readonly leaseMs: number;
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly cache = new Map<string, Lease>();

  constructor(
    client: DynamoDBClient,
    private readonly regionIds: readonly string[],
    options: LeaseOptions = {},
  ) {
    this.doc = DynamoDBDocumentClient.from(client);
    this.table = options.table ?? DEFAULTS.table;
    this.leaseMs = options.leaseMs ?? DEFAULTS.leaseMs;
  }

  /** Reads every region's lease. */
  async refresh(): Promise<void> {
    const out = await this.doc.send(
      new BatchGetCommand({
        RequestItems: {
          [this.table]: {
            Keys: this.regionIds.map((r) => ({ k: key(r) })),
            ConsistentRead: true,
          },
        },
      }),
    );
    for (const item of out.Responses?.[this.table] ?? []) {
      const lease = toLease(item);
      if (lease) this.cache.set(lease.region, lease);
    }
  }

  /** The last known lease of a region, or undefined when it was never claimed. */
  get(region: string): Lease | undefined {
    return this.cache.get(region);
  }

  /** The region serving `region`'s users: its lease owner, or itself when unclaimed. */
  owner(region: string): string {
    return this.cache.get(region)?.owner ?? region;
  }

  /** True when `me` holds `region`'s lease with at least `marginMs` left. */
  holds(region: string, me: string, marginMs = 0, now = Date.now()): boolean {
    const l = this.cache.get(region);
    return l !== undefined && l.owner === me && l.until > now + marginMs;
  }

  /**
   * Renews a lease `me` holds (or claims a region's own lease never claimed
   * before). Returns false when someone else holds it.
   */
  async renew(region: string, me: string, now = Date.now()): Promise<boolean> {
    const current = this.cache.get(region);
    if (current && current.owner !== me) return false;

    const until = now + this.leaseMs;
    const epoch = current?.epoch ?? 1;
    const condition = current
      ? "#o = :me AND epoch = :e"
      : region === me
        ? "attribute_not_exists(k)"
        : undefined;
    if (!condition) return false;
    return this.write(
      region,
      {
        UpdateExpression: "SET #o = :me, epoch = :e, #u = :until",
        ConditionExpression: condition,
        ExpressionAttributeValues: { ":me": me, ":e": epoch, ":until": until },
      },
      { region, owner: me, epoch, until },
    );
  }

  /** Takes over an expired lease with the next epoch. */
  async takeOver(region: string, me: string, now = Date.now()): Promise<boolean> {
    const current = this.cache.get(region);
    if (!current || current.until >= now) return false;

    const epoch = current.epoch + 1;
    const until = now + this.leaseMs;
    return this.write(
      region,
      {
        UpdateExpression: "SET #o = :me, epoch = :next, #u = :until",
        ConditionExpression: "epoch = :e AND #u < :now",
        ExpressionAttributeValues: {
          ":me": me,
          ":next": epoch,
          ":e": current.epoch,
          ":until": until,
          ":now": now,
        },
      },
      { region, owner: me, epoch, until },
    );
  }

  /** Gives a lease `me` holds back to its home region, expired, with the next epoch. */
  async handBack(region: string, me: string, now = Date.now()): Promise<boolean> {
    const current = this.cache.get(region);
    if (!current || current.owner !== me) return false;

    const epoch = current.epoch + 1;
    return this.write(
      region,
      {
        UpdateExpression: "SET #o = :home, epoch = :next, #u = :now",
        ConditionExpression: "#o = :me AND epoch = :e",
        ExpressionAttributeValues: {
          ":home": region,
          ":next": epoch,
          ":me": me,
          ":e": current.epoch,
          ":now": now,
        },
      },
      { region, owner: region, epoch, until: now },
    );
  }

  private async write(
    region: string,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeValues: Record<string, unknown>;
    },
    next: Lease,
  ): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { k: key(region) },
          ...update,
          ExpressionAttributeNames: { "#o": "owner", "#u": "until" },
        }),
      );
      this.cache.set(region, next);
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}

function key(region: string): string {
  return `lease|${region}`;
}

function toLease(item: Record<string, unknown>): Lease | undefined {
  const k = String(item.k ?? "");
  if (!k.startsWith("lease|")) return undefined;
  return {
    region: k.slice("lease|".length),
    owner: String(item.owner),
    epoch: Number(item.epoch),
    until: Number(item.until),
  };
}
