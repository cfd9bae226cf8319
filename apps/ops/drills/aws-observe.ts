// Waiting and watching for the AWS drills: an abortable sleep, a bounded poll, and the
// observation window that probes the region's public endpoint while the fault lasts.

/** What the endpoint probes saw after the fault was injected. */
export interface Observation {
  readonly probes: number;
  readonly failedProbes: number;
  /** From the fault until the first failed probe, ms; null when none failed. */
  readonly timeToDetectMs: number | null;
  /** From the fault until the first good probe after a failure, ms; null when none. */
  readonly recoveredAfterMs: number | null;
  /** True when the last probe failed: the endpoint had not recovered by the end. */
  readonly stillFailing: boolean;
  /** How long the observation lasted, ms. */
  readonly observedMs: number;
}

export interface ObserveOptions {
  /** GET this URL every `probeMs`; without it, only wait. */
  readonly endpoint?: string;
  readonly durationMs: number;
  readonly probeMs: number;
  /** When the fault was injected (Date.now()). */
  readonly faultAt: number;
  /** Stops the observation early with an AbortError. */
  readonly signal?: AbortSignal;
  /** Called with a short line when the endpoint's state changes. */
  readonly step: (what: string) => void;
}

/** Waits `durationMs`, probing the endpoint if there is one. Rejects only on abort. */
export async function observe(o: ObserveOptions): Promise<Observation> {
  const end = o.faultAt + o.durationMs;
  let probes = 0;
  let failedProbes = 0;
  let timeToDetectMs: number | null = null;
  let recoveredAfterMs: number | null = null;
  let lastOk = true;

  while (Date.now() < end) {
    o.signal?.throwIfAborted();
    if (o.endpoint) {
      const ok = await probe(o.endpoint, Math.max(500, Math.min(2000, o.probeMs * 2)));
      const at = Date.now() - o.faultAt;
      probes += 1;
      if (!ok) failedProbes += 1;
      if (!ok && timeToDetectMs === null) {
        timeToDetectMs = at;
        o.step(`endpoint failing (first failed probe ${at} ms after the fault)`);
      }
      if (ok && !lastOk && recoveredAfterMs === null) {
        recoveredAfterMs = at;
        o.step(`endpoint answering again (${at} ms after the fault)`);
      }
      lastOk = ok;
    }
    await sleep(Math.min(o.probeMs, Math.max(0, end - Date.now())), o.signal);
  }
  o.signal?.throwIfAborted();

  return {
    probes,
    failedProbes,
    timeToDetectMs,
    recoveredAfterMs,
    stillFailing: !lastOk,
    observedMs: Date.now() - o.faultAt,
  };
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);

    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Calls `read` every `pollMs` until `done` holds for its value, and returns that value.
 * Rejects with `what` and the last value's description after `timeoutMs`.
 */
export async function pollUntil<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  o: { timeoutMs: number; pollMs: number; describe: (value: T) => string },
): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() >= deadline) {
      throw new Error(
        `${what}: not reached within ${Math.round(o.timeoutMs / 1000)} s ` +
          `(last seen: ${o.describe(value)})`,
      );
    }
    await sleep(o.pollMs);
  }
}

async function probe(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
