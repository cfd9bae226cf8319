// Point reads of the inbox table, coalesced: the keys asked for within a few
// milliseconds of each other go out as one consistent BatchGetItem (up to 100
// keys) instead of one GetItem each. A connection's set-up reads two keys
// (the acknowledged cursor and the slot after the resume point), and so does a
// chat server finding a recipient's tail; a reconnect storm asks for
// thousands at once, and batched, the store and the SDK see one request per
// fifty connects.
import {
  type AttributeValue,
  BatchGetItemCommand,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";

import { withDefaults } from "./options.ts";

export interface KeyLoaderOptions {
  /** How long the first read of a batch waits for others to join it. @default 2 */
  readonly waitMs?: number;
  /** Keys per BatchGetItem (DynamoDB allows at most 100). @default 100 */
  readonly maxKeys?: number;
  /**
   * Part-filled batches in flight at once; while that many are out, keys
   * gather for the next (so a slow store gets fewer, fuller requests).
   * @default 2
   */
  readonly maxInFlight?: number;
  /** Rounds for keys the store left unprocessed before giving up. @default 8 */
  readonly maxRounds?: number;
  /** Pause before the first retry of unprocessed keys; doubles each round. @default 10 */
  readonly retryMs?: number;
}

const DEFAULTS = Object.freeze({
  waitMs: 2,
  maxKeys: 100,
  maxInFlight: 2,
  maxRounds: 8,
  retryMs: 10,
});

/** The attributes a loaded item carries (the key and the acknowledged cursor). */
export interface KeyItem {
  readonly user: string;
  readonly seq: number;
  readonly acked?: number;
}

interface Waiter {
  resolve(item: KeyItem | undefined): void;
  reject(err: unknown): void;
}

export class KeyLoader {
  /** Keys of the batch being gathered, each with everyone waiting for it. */
  private pending = new Map<string, Waiter[]>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  /** The wait ended while too many batches were out: go when one returns. */
  private due = false;
  private readonly o: Required<KeyLoaderOptions>;

  /**
   * @param client the client of the inbox store
   * @param table a table keyed by `user` (S) and `seq` (N)
   */
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    options: KeyLoaderOptions = {},
  ) {
    this.o = withDefaults(DEFAULTS, options);
  }

  /** The item at (`user`, `seq`), read consistently, or undefined. */
  load(user: string, seq: number): Promise<KeyItem | undefined> {
    return new Promise<KeyItem | undefined>((resolve, reject) => {
      const key = `${seq}|${user}`;
      const waiters = this.pending.get(key);
      if (waiters) {
        waiters.push({ resolve, reject });
        return;
      }
      this.pending.set(key, [{ resolve, reject }]);
      if (this.pending.size >= this.o.maxKeys) {
        this.dispatch();
      } else {
        this.timer ??= setTimeout(() => this.waited(), this.o.waitMs);
      }
    });
  }

  private waited(): void {
    this.timer = undefined;
    if (this.inFlight >= this.o.maxInFlight) {
      this.due = true;
      return;
    }
    this.dispatch();
  }

  private dispatch(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = false;
    const batch = this.pending;
    this.pending = new Map();
    this.inFlight++;
    void this.fetch(batch).finally(() => {
      this.inFlight--;
      if (this.due && this.pending.size > 0) this.dispatch();
    });
  }

  private async fetch(batch: Map<string, Waiter[]>): Promise<void> {
    try {
      const found = await this.batchGet([...batch.keys()]);
      for (const [key, waiters] of batch) {
        const item = found.get(key);
        for (const w of waiters) w.resolve(item);
      }
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
    }
  }

  /** Items of `keys` (`seq|user`, at most maxKeys, no repeats); absent ones left out. */
  private async batchGet(wanted: string[]): Promise<Map<string, KeyItem>> {
    const found = new Map<string, KeyItem>();
    let keys: Record<string, AttributeValue>[] = wanted.map((key) => {
      const bar = key.indexOf("|");
      return { user: { S: key.slice(bar + 1) }, seq: { N: key.slice(0, bar) } };
    });
    for (let round = 0; keys.length > 0; round++) {
      if (round >= this.o.maxRounds) {
        throw new Error(
          `${keys.length} inbox keys were left unprocessed ${round} times; ` +
            "the inbox table is throttled",
        );
      }
      if (round > 0) {
        await new Promise((r) => setTimeout(r, this.o.retryMs * 2 ** (round - 1)));
      }
      const out = await this.client.send(
        new BatchGetItemCommand({
          RequestItems: {
            [this.table]: {
              Keys: keys,
              ConsistentRead: true,
              ProjectionExpression: "#u, seq, acked",
              ExpressionAttributeNames: { "#u": "user" },
            },
          },
        }),
      );
      for (const item of out.Responses?.[this.table] ?? []) {
        const user = String(item.user?.S);
        const seq = Number(item.seq?.N);
        const acked = item.acked?.N === undefined ? undefined : Number(item.acked.N);
        found.set(`${seq}|${user}`, { user, seq, acked });
      }
      keys = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
    }
    return found;
  }
}
