// Reads of acknowledged cursors, coalesced: the `acked` reads asked for within
// a few milliseconds of each other go out as one consistent BatchGetItem (up
// to 100 keys) instead of one GetItem each. A reconnect storm asks for
// thousands of them at once; batched, the store and the SDK see one request
// per hundred connects.
import { BatchGetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

import { withDefaults } from "./options.ts";

export interface AckedLoaderOptions {
  /** How long the first read of a batch waits for others to join it. @default 2 */
  readonly waitMs?: number;
  /** Keys per BatchGetItem (DynamoDB allows at most 100). @default 100 */
  readonly maxKeys?: number;
  /** Rounds for keys the store left unprocessed before giving up. @default 8 */
  readonly maxRounds?: number;
  /** Pause before the first retry of unprocessed keys; doubles each round. @default 10 */
  readonly retryMs?: number;
}

const DEFAULTS = Object.freeze({ waitMs: 2, maxKeys: 100, maxRounds: 8, retryMs: 10 });

interface Waiter {
  resolve(acked: number): void;
  reject(err: unknown): void;
}

export class AckedLoader {
  /** Users of the batch being gathered, each with everyone waiting for it. */
  private pending = new Map<string, Waiter[]>();
  private timer: NodeJS.Timeout | undefined;
  private readonly o: Required<AckedLoaderOptions>;

  /**
   * @param doc the document client of the inbox store
   * @param table the inbox table; cursors are the items with sort key `metaSeq`
   */
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly metaSeq: number,
    options: AckedLoaderOptions = {},
  ) {
    this.o = withDefaults(DEFAULTS, options);
  }

  /** The highest sequence `user` has acknowledged (0 when none). */
  load(user: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const waiters = this.pending.get(user);
      if (waiters) {
        waiters.push({ resolve, reject });
        return;
      }
      this.pending.set(user, [{ resolve, reject }]);
      if (this.pending.size >= this.o.maxKeys) {
        this.dispatch();
      } else {
        this.timer ??= setTimeout(() => this.dispatch(), this.o.waitMs);
      }
    });
  }

  private dispatch(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    void this.fetch(batch);
  }

  private async fetch(batch: Map<string, Waiter[]>): Promise<void> {
    try {
      const found = await this.batchGet([...batch.keys()]);
      for (const [user, waiters] of batch) {
        const acked = found.get(user) ?? 0;
        for (const w of waiters) w.resolve(acked);
      }
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
    }
  }

  /** Cursors of `users` (at most maxKeys, no repeats); absent users are left out. */
  private async batchGet(users: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    let keys: Record<string, unknown>[] = users.map((user) => ({
      user,
      seq: this.metaSeq,
    }));
    for (let round = 0; keys.length > 0; round++) {
      if (round >= this.o.maxRounds) {
        throw new Error(
          `acknowledged cursors of ${keys.length} users were left unprocessed ` +
            `${round} times; the inbox table is throttled`,
        );
      }
      if (round > 0) {
        await new Promise((r) => setTimeout(r, this.o.retryMs * 2 ** (round - 1)));
      }
      const out = await this.doc.send(
        new BatchGetCommand({
          RequestItems: {
            [this.table]: {
              Keys: keys,
              ConsistentRead: true,
              ProjectionExpression: "#u, acked",
              ExpressionAttributeNames: { "#u": "user" },
            },
          },
        }),
      );
      for (const item of out.Responses?.[this.table] ?? []) {
        found.set(String(item.user), Number(item.acked ?? 0));
      }
      keys = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
    }
    return found;
  }
}
