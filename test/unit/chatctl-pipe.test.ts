// chatctl piped into a reader that has already stopped (`chatctl ... | head`)
// exits quietly instead of dying on EPIPE with a stack trace.
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

describe("chatctl output into a closed pipe", () => {
  it("exits 0 without an error", async () => {
    const child = spawn(process.execPath, ["bin/chatctl.mjs", "help"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    // The reader goes away before chatctl writes anything.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(code).toBe(0);
  });
});
