// A DynamoDB-compatible server (dynalite) of a test file's own, with the inbox
// tables created, on a free loopback port.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  freePort,
  startDynalite,
  stopProcess,
  tcpOpen,
  waitFor,
} from "../../apps/local/services.ts";
import { dynamoClient, Inbox } from "../../apps/shared/inbox.ts";

export interface TestDynamo {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startTestDynamo(): Promise<TestDynamo> {
  const dir = mkdtempSync(join(tmpdir(), "chat-dynamo-test-"));
  const port = await freePort();
  const dyn = startDynalite("dynamo", dir, port);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor("dynalite", () => tcpOpen(port), 20_000, dyn.proc);
  await new Inbox(dynamoClient(endpoint, "local")).ensureTables();
  return {
    endpoint,
    async stop() {
      await stopProcess(dyn.proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
