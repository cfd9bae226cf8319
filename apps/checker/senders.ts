// Synthetic senders for fault tests, drills and benchmarks: each sender sends
// its messages one after another (so their order is known), retrying a failed
// send with the same clientMsgId until it is accepted or the deadline passes,
// and reports every accepted send to the checker.
import type { DeliveryChecker } from "./checker.ts";

/** A group to send to, with the members whose deliveries the checker expects. */
export interface GroupTarget {
  readonly group: string;
  readonly members: readonly string[];
}

/** A user id, or a group. */
export type Target = string | GroupTarget;

/** Sends one message; resolves with its id once accepted, rejects otherwise. */
export type SendFn = (
  from: string,
  to: Target,
  body: string,
  clientMsgId: string,
) => Promise<string>;

export interface SenderPlan {
  readonly from: string;
  /** Recipients, cycled through in order. */
  readonly to: readonly Target[];
  readonly count: number;
}

/** The body of a send to `to`: `{to}` for a user, `{group}` for a group. */
export function sendBody(
  to: Target,
  body: string,
  clientMsgId: string,
): Record<string, string> {
  const target: Record<string, string> =
    typeof to === "string" ? { to } : { group: to.group };
  return { ...target, body, clientMsgId };
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
            if (typeof to === "string") o.checker.sent(to, id);
            else for (const m of to.members) o.checker.sent(m, id);
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
