// The chat server's side of region failover. Every tick it: renews its own
// region's lease (or reclaims it once another region let it lapse); takes
// over the lease of a region whose lease expired, when it is that region's
// successor; and hands a borrowed lease back once the home region's chat
// server has answered ready a few times in a row.
import { EventEmitter } from "node:events";

import type { RegionLeases } from "../shared/leases.ts";
import type { Logger } from "../shared/logger.ts";

export interface LeaseKeeperOptions {
  /** Time between ticks. @default leaseMs / 4 */
  readonly tickMs?: number;
  /** An expired lease is taken over only this long after it expired. @default leaseMs / 2 */
  readonly graceMs?: number;
  /** Consecutive ready answers from a home region before handing its lease back. @default 3 */
  readonly healthyChecks?: number;
}

/** Asks whether a region's own chat server is ready. */
export type HomeProbe = (region: string) => Promise<boolean>;

/** Events: `change` (region, owner) when this keeper gains or gives up a lease. */
export class LeaseKeeper extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly healthy = new Map<string, number>();
  private readonly tickMs: number;
  private readonly graceMs: number;
  private readonly healthyChecks: number;

  constructor(
    private readonly leases: RegionLeases,
    private readonly me: string,
    private readonly regionIds: readonly string[],
    private readonly probe: HomeProbe,
    private readonly log: Logger,
    options: LeaseKeeperOptions = {},
  ) {
    super();
    this.tickMs = options.tickMs ?? Math.max(100, Math.floor(leases.leaseMs / 4));
    this.graceMs = options.graceMs ?? Math.floor(leases.leaseMs / 2);
    this.healthyChecks = options.healthyChecks ?? 3;
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.tickMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One round; safe to call at any time (rounds never overlap). */
  async tick(now = Date.now()): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.leases.refresh();
      await this.keepOwn(now);
      for (const region of this.regionIds) {
        if (region !== this.me) await this.watch(region, now);
      }
    } catch (err) {
      this.log.warn({ err }, "lease round failed; retrying next tick");
    } finally {
      this.ticking = false;
    }
  }

  private async keepOwn(now: number): Promise<void> {
    const own = this.leases.get(this.me);
    if (!own || own.owner === this.me) {
      await this.leases.renew(this.me, this.me, now);
    } else if (own.until < now && (await this.leases.takeOver(this.me, this.me, now))) {
      this.changed(this.me, "reclaimed my region's lease");
    }
  }

  private async watch(region: string, now: number): Promise<void> {
    const lease = this.leases.get(region);
    if (!lease) return;

    if (lease.owner === this.me) {
      if (await this.homeIsBack(region)) {
        if (await this.leases.handBack(region, this.me, now)) {
          this.changed(region, "home region is back; lease handed back");
        }
      } else {
        await this.leases.renew(region, this.me, now);
      }
      return;
    }
    this.healthy.delete(region);
    if (lease.until + this.graceMs < now && this.isSuccessor(region, now)) {
      if (await this.leases.takeOver(region, this.me, now)) {
        this.changed(region, "lease expired; took over");
      }
    }
  }

  /** The first region, in id order, other than `region`, that holds its own lease. */
  private isSuccessor(region: string, now: number): boolean {
    const candidates = this.regionIds
      .filter((r) => r !== region)
      .filter((r) => this.leases.holds(r, r, 0, now) || r === this.me)
      .sort();
    return candidates[0] === this.me;
  }

  private async homeIsBack(region: string): Promise<boolean> {
    const ok = await this.probe(region).catch(() => false);
    const streak = ok ? (this.healthy.get(region) ?? 0) + 1 : 0;
    this.healthy.set(region, streak);
    return streak >= this.healthyChecks;
  }

  private changed(region: string, what: string): void {
    const owner = this.leases.owner(region);
    this.log.warn(
      { leaseRegion: region, owner, epoch: this.leases.get(region)?.epoch },
      what,
    );
    this.emit("change", region, owner);
  }
}
