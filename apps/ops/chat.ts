// chatctl chat: a terminal chat client. Each input line is "<to> <message>"
// ("#<group> <message>" for a group); incoming messages print as they arrive.
// Reconnects by itself.
import { createInterface } from "node:readline";

import { loadRegions } from "../../regions/schema.ts";
import { ChatClient } from "../client/client.ts";
import { ChatError } from "../shared/errors.ts";
import { parseId } from "../shared/ids.ts";
import { parse, readState, UsageError } from "./cli.ts";
import { userToken } from "./token.ts";

export async function chat(args: string[]): Promise<number> {
  const { positionals } = parse(args, {}, 1);
  const user = positionals[0];
  if (!user)
    throw new UsageError("usage: chatctl chat <userId>   (then type: bob:eu hello)");
  let region: string;
  try {
    region = parseId(user, loadRegions(), "userId").region;
  } catch (err) {
    if (err instanceof ChatError) throw new UsageError(err.message);
    throw err;
  }
  const state = readState();
  const endpoints = state.regions[region];
  if (!endpoints) throw new Error(`region ${region} is not running locally`);

  const out = (line: string) => process.stdout.write(`${line}\n`);
  const client = new ChatClient({ urls: endpoints.wss, token: () => userToken(user) });
  client.on("open", (url: string) => out(`* connected to ${url} as ${user}`));
  let quitting = false;
  client.on("close", (code: number) => {
    if (!quitting) out(`* disconnected (${code}); reconnecting...`);
  });
  client.on("msg", (m) =>
    out(`#${m.seq} ${m.group ? `[${m.group}] ` : ""}${m.from}: ${printable(m.body)}`),
  );
  client.on(
    "error-frame",
    (f: { code: string; message: string; clientMsgId?: string }) => {
      // Errors about a send are reported where the send settles.
      if (!f.clientMsgId) out(`! ${f.code}: ${f.message}`);
    },
  );
  await client.connect();
  out('* type "<to> <message>", e.g. "bob:eu hello", or "#team:usa hi" for a group;');
  out("* Ctrl-D to quit");

  const sends: Promise<void>[] = [];
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    const m = /^\s*(\S+)\s+(.+?)\s*$/.exec(line);
    if (!m) {
      if (line.trim()) out('! type "<to> <message>", e.g. "bob:eu hello"');
      continue;
    }
    const [, to, body] = m;
    const sent = to!.startsWith("#")
      ? client.sendGroup(to!.slice(1), body!)
      : client.send(to!, body!);
    sends.push(
      sent.then(
        ({ id }) => void out(`> ${to} (${id})`),
        (err: Error) => void out(`! ${err.message}`),
      ),
    );
  }
  await Promise.all(sends);
  await new Promise((r) => setTimeout(r, 500));
  quitting = true;
  client.close();
  return 0;
}

/**
 * A message body as it may be printed to a terminal: control characters
 * (escape sequences, carriage returns, new lines) shown as `\u{..}`, so that
 * no sender can write to the reader's screen beyond their own line.
 */
export function printable(body: string): string {
  return body.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
}
