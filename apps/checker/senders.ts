// Synthetic senders for fault tests, drills and benchmarks: each sender sends
// its messages one after another (so their order is known), retrying a failed
// send with the same clientMsgId until it is accepted or the deadline passes,
// and reports every accepted send to the checker.
import type { DeliveryChecker } from "./checker.ts";

/** Sends one message; resolves with its id once accepted, rejects otherwise. */
export type SendFn = (
  from: string,
  to: string,
  body: string,
  clientMsgId: string,
) => Promise<string>;

export interface SenderPlan {
  readonly from: string;
  /** Recipients, cycled through in order. */
  readonly to: readonly string[];
  readonly count: number;
}

export interface SendersOptions {
  readonly send: SendFn;
  readonly checker: DeliveryChecker;
  readonly plans: readonly SenderPlan[];
  /** Pause between two sends of one sender. @default 0 */
  readonly intervalMs?: number;
  /** Give up retrying one message after this long. @default 30000 */
  readonly retryForMs?: number;
  /** Called after every accepted send with the running total. */
  readonly onAccepted?: (total: number) => void;
  /** Checked before every send: senders stop early once it returns true. */
  readonly stop?: () => boolean;
  /** A run id, so message ids of two runs never collide. @default time-based */
  readonly runId?: string;
}

export interface SendersResult {
  readonly accepted: number;
  readonly retries: number;
  readonly failed: number;
}

export async function runSenders(o: SendersOptions): Promise<SendersResult> {
  const runId = o.runId ?? Date.now().toString(36);
  let accepted = 0;
  let retries = 0;
  let failed = 0;

  await Promise.all(
    o.plans.map(async (plan) => {
      for (let i = 0; i < plan.count && !o.stop?.(); i++) {
        const to = plan.to[i % plan.to.length]!;
        const clientMsgId = `${runId}-${plan.from.replace(":", ".")}-${i}`;
        const body = `${plan.from}#${i}`;
        const deadline = Date.now() + (o.retryForMs ?? 30_000);
        for (;;) {
          try {
            const id = await o.send(plan.from, to, body, clientMsgId);
            o.checker.sent(to, id);
            accepted++;
            o.onAccepted?.(accepted);
            break;
          } catch {
            if (Date.now() > deadline) {
              failed++;
              break;
            }
            retries++;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        if (o.intervalMs) await new Promise((r) => setTimeout(r, o.intervalMs));
      }
    }),
  );
  return { accepted, retries, failed };
}
