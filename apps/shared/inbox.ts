// The durable inbox: every message of a recipient, in the recipient's own
// sequence 1, 2, 3, ... without gaps, in a DynamoDB table (a global table in
// AWS, a DynamoDB-compatible server in local mode).
//
// Appending is one conditional put of the next free slot, so a sequence number
// exists exactly when its entry does: there is no counter that could run ahead
// of the entries and leave a hole. Idempotency on (sender, clientMsgId) comes
// from a dedup record that always points at the only slot the message may
// occupy; it moves forward only after that slot was seen taken by another
// message. See docs/delivery.md for the argument.
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";

import { KeyLoader } from "./key-loader.ts";
import { withDefaults } from "./options.ts";

/** One message in a recipient's inbox. */
export interface InboxEntry {
  readonly seq: number;
  readonly id: string;
  readonly from: string;
  readonly to: string;
  /** The group the message was sent to, when it was sent to a group. */
  readonly group?: string;
  readonly body: string;
  readonly sentAt: number;
}

/** What to append: an entry without its sequence, and the lease epoch it is stored under. */
export type NewEntry = Omit<InboxEntry, "seq"> & { readonly epoch?: number };

export interface InboxOptions {
  /** Table of entries: hash key `user` (S), range key `seq` (N). @default "chat-inbox" */
  readonly inboxTable?: string;
  /** Table of dedup records: hash key `k` (S). @default "chat-dedup" */
  readonly dedupTable?: string;
  /** Days entries and dedup records are kept (DynamoDB TTL). @default 30 */
  readonly retentionDays?: number;
  /** Recipients whose tail sequence is cached in memory. @default 100000 */
  readonly tailCacheSize?: number;
  /**
   * How long an `acked` or `hasAfter` read waits for others to share its
   * BatchGetItem, in milliseconds. @default 2
   */
  readonly pointReadBatchMs?: number;
}

export interface AppendResult {
  readonly seq: number;
  /** True when the message was already stored by an earlier attempt. */
  readonly duplicate: boolean;
}

const DEFAULTS = Object.freeze({
  inboxTable: "chat-inbox",
  dedupTable: "chat-dedup",
  retentionDays: 30,
  tailCacheSize: 100_000,
  pointReadBatchMs: 2,
});

/** The sort key of the per-recipient record holding the acknowledged cursor. */
const META_SEQ = 0;

export class Inbox {
  readonly inboxTable: string;
  readonly dedupTable: string;
  private readonly retentionSeconds: number;
  private readonly tailCacheSize: number;
  private readonly tails = new Map<string, number>();
  private readonly appending = new Map<string, Promise<unknown>>();
  private readonly points: KeyLoader;

  /**
   * @param client sends only low-level commands here, so it may cache its
   *   middleware (`cacheMiddleware`, as `openInbox` sets it); a document
   *   client must never share such a client, or every command it sends
   *   repeats its first one.
   */
  constructor(
    private readonly client: DynamoDBClient,
    options: InboxOptions = {},
  ) {
    const o = withDefaults(DEFAULTS, options);
    this.inboxTable = o.inboxTable;
    this.dedupTable = o.dedupTable;
    this.retentionSeconds = o.retentionDays * 86400;
    this.tailCacheSize = o.tailCacheSize;
    this.points = new KeyLoader(client, this.inboxTable, {
      waitMs: o.pointReadBatchMs,
    });
  }

  /**
   * Stores `entry` for `recipient` at the next sequence, or finds where an
   * earlier attempt with the same id stored it.
   */
  append(recipient: string, entry: NewEntry): Promise<AppendResult> {
    // Appends for one recipient run one at a time in this process, so they do
    // not race each other for the same slot; other processes still may.
    const prior = this.appending.get(recipient) ?? Promise.resolve();
    const run = prior.then(() => this.appendNow(recipient, entry));
    const tail = run.catch(() => undefined);
    this.appending.set(recipient, tail);
    void tail.then(() => {
      if (this.appending.get(recipient) === tail) this.appending.delete(recipient);
    });
    return run;
  }

  // TODO(#7): two conditional writes per message (the dedup record, then the
  // entry) through the SDK hold a chat server to about 800-900 msg/s end to
  // end on the benchmark's two cores (with the local store on the same cores),
  // with a p99 of 50-80 ms; a reconnect storm's 2,500 probe messages take it
  // 2.5-3 s of the 10 s goal. In AWS one TransactWriteItems could carry both;
  // the local store has none.
  private async appendNow(recipient: string, entry: NewEntry): Promise<AppendResult> {
    const key = `${recipient}|${entry.id}`;
    const expiresAt = this.expiry();
    let candidate = (await this.cachedTail(recipient)) + 1;

    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.dedupTable,
          Item: { k: { S: key }, seq: num(candidate), expiresAt: num(expiresAt) },
          ConditionExpression: "attribute_not_exists(k)",
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      candidate = await this.dedupSeq(key);
    }

    for (;;) {
      if (await this.tryPut(recipient, candidate, entry, expiresAt)) {
        this.rememberTail(recipient, candidate);
        return { seq: candidate, duplicate: false };
      }

      const slot = await this.get(recipient, candidate);
      if (slot?.id === entry.id) {
        this.rememberTail(recipient, Math.max(candidate, this.tails.get(recipient) ?? 0));
        return { seq: candidate, duplicate: true };
      }

      // The slot holds another message: move the dedup record past it before
      // trying further, so it always names the only slot this message may take.
      const next = Math.max(candidate + 1, (await this.tail(recipient)) + 1);
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.dedupTable,
            Key: { k: { S: key } },
            UpdateExpression: "SET seq = :next",
            ConditionExpression: "seq = :current",
            ExpressionAttributeValues: { ":next": num(next), ":current": num(candidate) },
          }),
        );
        candidate = next;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        candidate = await this.dedupSeq(key);
      }
    }
  }

  /**
   * Entries with a sequence above `after`, in order, at most `limit`. Fewer
   * than `limit` means there are no more: a query page cut short by
   * DynamoDB's 1 MB response limit is followed here.
   */
  async read(user: string, after: number, limit = 100): Promise<InboxEntry[]> {
    const entries: InboxEntry[] = [];
    let from = Math.max(after, META_SEQ);
    while (entries.length < limit) {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.inboxTable,
          KeyConditionExpression: "#u = :u AND seq > :after",
          ExpressionAttributeNames: { "#u": "user" },
          ExpressionAttributeValues: { ":u": { S: user }, ":after": num(from) },
          ConsistentRead: true,
          Limit: limit - entries.length,
        }),
      );
      for (const item of out.Items ?? []) entries.push(toEntry(item));
      if (!out.LastEvaluatedKey || entries.length === 0) break;
      from = entries[entries.length - 1]!.seq;
    }
    return entries;
  }

  /** One entry, or undefined. */
  async get(user: string, seq: number): Promise<InboxEntry | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.inboxTable,
        Key: { user: { S: user }, seq: num(seq) },
        ConsistentRead: true,
      }),
    );
    return out.Item ? toEntry(out.Item) : undefined;
  }

  /**
   * The highest sequence handed out for `user` (0 when none). The acknowledged
   * cursor counts too, so entries expired by TTL never make a sequence restart.
   */
  async tail(user: string): Promise<number> {
    const [stored, acked] = await Promise.all([this.storedTail(user), this.acked(user)]);
    const seq = Math.max(stored, acked);
    this.rememberTail(user, seq);
    return seq;
  }

  private async storedTail(user: string): Promise<number> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.inboxTable,
        KeyConditionExpression: "#u = :u AND seq > :meta",
        ExpressionAttributeNames: { "#u": "user" },
        ExpressionAttributeValues: { ":u": { S: user }, ":meta": num(META_SEQ) },
        ProjectionExpression: "seq",
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: 1,
      }),
    );
    return Number(out.Items?.[0]?.seq?.N ?? 0);
  }

  /**
   * The highest sequence `user` has acknowledged (0 when none). Reads asked
   * for within `pointReadBatchMs` of each other share one BatchGetItem.
   */
  async acked(user: string): Promise<number> {
    const meta = await this.points.load(user, META_SEQ);
    return meta?.acked ?? 0;
  }

  /**
   * Whether `user` has an entry after `after`, from one key: sequences have
   * no holes, so there is one exactly when slot `after + 1` is taken. (An
   * entry the store's TTL removed ahead of the one after it would hide that
   * one; both are at the end of their retention then.) Batched like `acked`.
   */
  async hasAfter(user: string, after: number): Promise<boolean> {
    return (await this.points.load(user, Math.max(after, META_SEQ) + 1)) !== undefined;
  }

  /**
   * Marks every entry up to `upTo` delivered. The cursor only moves forward;
   * returns false when it was already at or past `upTo`.
   */
  async ack(user: string, upTo: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.inboxTable,
          Key: { user: { S: user }, seq: num(META_SEQ) },
          UpdateExpression: "SET acked = :n, ackedAt = :now",
          ConditionExpression: "attribute_not_exists(acked) OR acked < :n",
          ExpressionAttributeValues: { ":n": num(upTo), ":now": num(Date.now()) },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** Creates both tables when they do not exist (local mode; AWS tables come from infra). */
  async ensureTables(): Promise<void> {
    await this.createTable(this.inboxTable, [
      { name: "user", type: "S", key: "HASH" },
      { name: "seq", type: "N", key: "RANGE" },
    ]);
    await this.createTable(this.dedupTable, [{ name: "k", type: "S", key: "HASH" }]);
  }

  private async tryPut(
    user: string,
    seq: number,
    entry: NewEntry,
    expiresAt: number,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.inboxTable,
          Item: entryItem(user, seq, entry, expiresAt),
          ConditionExpression: "attribute_not_exists(seq)",
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  private async dedupSeq(key: string): Promise<number> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.dedupTable,
        Key: { k: { S: key } },
        ConsistentRead: true,
      }),
    );
    if (out.Item?.seq?.N === undefined) {
      throw new Error(`dedup record ${key} vanished while in use`);
    }
    return Number(out.Item.seq.N);
  }

  private async cachedTail(user: string): Promise<number> {
    return this.tails.get(user) ?? (await this.firstTail(user));
  }

  /**
   * The tail of a recipient this process holds none for, from batched point
   * reads when they suffice: sequences have no holes, so when slot `acked + 1`
   * is empty nothing was stored after the acknowledged cursor, and the tail is
   * the cursor. Only a recipient with unacknowledged entries costs a query.
   * (A slot the TTL removed ahead of later entries would hide those, as in
   * `hasAfter`; they are past their retention then, and the sequence goes on
   * after the cursor, as it does when every entry has expired.)
   */
  private async firstTail(user: string): Promise<number> {
    const acked = await this.acked(user);
    const seq = (await this.hasAfter(user, acked))
      ? Math.max(await this.storedTail(user), acked)
      : acked;
    this.rememberTail(user, seq);
    return seq;
  }

  private rememberTail(user: string, seq: number): void {
    this.tails.delete(user);
    this.tails.set(user, seq);
    if (this.tails.size > this.tailCacheSize) {
      const oldest = this.tails.keys().next().value;
      if (oldest !== undefined) this.tails.delete(oldest);
    }
  }

  private expiry(): number {
    return Math.floor(Date.now() / 1000) + this.retentionSeconds;
  }

  private async createTable(
    name: string,
    keys: { name: string; type: "S" | "N"; key: "HASH" | "RANGE" }[],
  ): Promise<void> {
    try {
      await this.client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: keys.map((k) => ({
            AttributeName: k.name,
            AttributeType: k.type,
          })),
          KeySchema: keys.map((k) => ({ AttributeName: k.name, KeyType: k.key })),
        }),
      );
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
    for (let i = 0; i < 200; i++) {
      const out = await this.client.send(new DescribeTableCommand({ TableName: name }));
      if (out.Table?.TableStatus === "ACTIVE") return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`table ${name} did not become ACTIVE`);
  }
}

/**
 * A DynamoDB client for an endpoint (local mode) or the default AWS chain.
 * `cacheMiddleware` resolves each command's middleware once per command
 * class instead of on every request (a tenth of a write's CPU); only for a
 * client no document client uses (see `Inbox`), and a request sent with
 * options of its own (an abort signal) empties the cache: send those on
 * another client.
 */
export function dynamoClient(
  endpoint: string | undefined,
  region: string,
  options: { readonly cacheMiddleware?: boolean } = {},
): DynamoDBClient {
  const cacheMiddleware = options.cacheMiddleware ?? false;
  if (!endpoint) return new DynamoDBClient({ region, cacheMiddleware });
  return new DynamoDBClient({
    region,
    endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 5,
    cacheMiddleware,
  });
}

// Items are marshalled here, not by a document client: its extra layer of
// middleware and generic marshalling cost 10-15% of each write's CPU, and it
// cannot share a client that caches its middleware.
function entryItem(
  user: string,
  seq: number,
  e: NewEntry,
  expiresAt: number,
): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    user: { S: user },
    seq: num(seq),
    id: { S: e.id },
    from: { S: e.from },
    to: { S: e.to },
    body: { S: e.body },
    sentAt: num(e.sentAt),
    expiresAt: num(expiresAt),
  };
  if (e.group !== undefined) item.group = { S: e.group };
  if (e.epoch !== undefined) item.epoch = num(e.epoch);
  return item;
}

function num(n: number): AttributeValue {
  return { N: String(n) };
}

function toEntry(item: Record<string, AttributeValue>): InboxEntry {
  const group = item.group?.S;
  return {
    seq: Number(item.seq?.N),
    id: String(item.id?.S),
    from: String(item.from?.S),
    to: String(item.to?.S),
    ...(group !== undefined ? { group } : {}),
    body: String(item.body?.S),
    sentAt: Number(item.sentAt?.N),
  };
}
