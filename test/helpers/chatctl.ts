// Runs chatctl as a child process, the way an operator does: `node bin/chatctl.mjs`.
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface ChatctlRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Local-mode secrets from the environment would override the test's own. */
const SECRET_VARIABLES = [
  "CHAT_JWT_SECRET",
  "CHAT_INTERNAL_SECRET",
  "CHAT_REDIS_PASSWORD",
];

/** Runs `chatctl ...args` from the project folder; resolves once it exits. */
export function chatctl(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<ChatctlRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of SECRET_VARIABLES) delete childEnv[name];

  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/chatctl.mjs", ...args], {
      cwd: PROJECT_ROOT,
      env: childEnv,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
