// The traffic of the durable-delivery suites: some senders send direct
// messages to the recipients, others send to a group of all the recipients,
// so both the user topics and (in per-group fan-out) the group channels carry
// messages through every fault.
import { expect } from "vitest";

import type { CheckReport } from "../../apps/checker/checker.ts";
import type { SenderPlan } from "../../apps/checker/senders.ts";
import type { TestSystem } from "./system.ts";

export interface MixedTrafficOptions {
  /** Prefix of the sender and group names (unique per test). */
  readonly prefix: string;
  readonly recipients: readonly string[];
  /** Senders of direct messages, each sending `directCount`, cycling over the recipients. */
  readonly direct: number;
  readonly directCount: number;
  /** Senders to the group, each sending `groupCount`. */
  readonly grouped: number;
  readonly groupCount: number;
  /** The region of the senders and the group. @default "usa" */
  readonly region?: string;
}

export interface MixedTraffic {
  readonly plans: SenderPlan[];
  /** Sends the senders make. */
  readonly sends: number;
  /** Deliveries the checker expects (a group send counts once per recipient). */
  readonly deliveries: number;
}

/** Creates the group (recipients and group senders) and returns the sender plans. */
export async function mixedTraffic(
  sys: TestSystem,
  o: MixedTrafficOptions,
): Promise<MixedTraffic> {
  const region = o.region ?? "usa";
  const name = (kind: string, i: number) => `${o.prefix}-${kind}${i}:${region}`;
  const direct = Array.from({ length: o.direct }, (_, i) => name("d", i));
  const grouped = Array.from({ length: o.grouped }, (_, i) => name("g", i));
  const plans: SenderPlan[] = direct.map((from) => ({
    from,
    to: o.recipients,
    count: o.directCount,
  }));
  if (grouped.length > 0) {
    const group = `${o.prefix}-group:${region}`;
    await sys.createGroup(grouped[0]!, group, [...o.recipients, ...grouped.slice(1)]);
    const target = { group, members: o.recipients };
    for (const from of grouped) plans.push({ from, to: [target], count: o.groupCount });
  }
  return {
    plans,
    sends: o.direct * o.directCount + o.grouped * o.groupCount,
    deliveries: o.direct * o.directCount + o.grouped * o.groupCount * o.recipients.length,
  };
}

/** Asserts every one of `sent` deliveries arrived, once and in order. */
export function expectWhole(report: CheckReport, sent: number): void {
  expect(report).toMatchObject({
    sent,
    delivered: sent,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
  });
}
