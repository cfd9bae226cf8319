// The benchmark's handle on a load generator process (bench/load/loadgen.ts).
import type { ChildProcess } from "node:child_process";

import type { CommandName, Commands, Reply } from "../load/protocol.ts";
import { spawnTs, stopChild } from "./procs.ts";

export class LoadGen {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();

  private constructor(readonly proc: ChildProcess) {
    proc.on("message", (raw) => {
      const r = raw as Reply;
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      if (r.ok) w.resolve(r.result);
      else w.reject(new Error(`load generator: ${r.error}`));
    });
    proc.once("exit", (code, signal) => {
      const err = new Error(`load generator exited (${code ?? signal})`);
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
  }

  /** Starts a load generator and waits until it listens for commands. */
  static async start(nodeFlags: readonly string[] = []): Promise<LoadGen> {
    const proc = spawnTs("bench/load/loadgen.ts", { ipc: true, nodeFlags });
    const lg = new LoadGen(proc);
    await new Promise<void>((resolve, reject) => {
      lg.waiting.set(0, { resolve: () => resolve(), reject });
    });
    return lg;
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  call<K extends CommandName>(
    cmd: K,
    args: Commands[K][0],
    timeoutMs = 300_000,
  ): Promise<Commands[K][1]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`load generator: ${cmd} took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as Commands[K][1]);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ id, cmd, args });
    });
  }

  /** Disconnects (the generator exits by itself, writing its profile), then stops it. */
  async stop(): Promise<void> {
    const exited = new Promise((r) => this.proc.once("exit", r));
    if (this.proc.connected) this.proc.disconnect();
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    await stopChild(this.proc, 3000);
  }
}
