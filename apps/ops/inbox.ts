// chatctl inbox: a user's pending entries and last acknowledged sequence.
import { loadRegions } from "../../regions/schema.ts";
import { ChatError } from "../shared/errors.ts";
import { parseId } from "../shared/ids.ts";
import { dynamoClient, Inbox } from "../shared/inbox.ts";
import { parse, readState, UsageError } from "./cli.ts";

export async function inbox(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { json: { type: "boolean" }, limit: { type: "string" } },
    1,
  );
  const user = positionals[0];
  if (!user) throw new UsageError("usage: chatctl inbox <userId> [--json] [--limit n]");
  try {
    parseId(user, loadRegions(), "userId");
  } catch (err) {
    if (err instanceof ChatError) throw new UsageError(err.message);
    throw err;
  }
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new UsageError("--limit must be from 1 to 1000");
  }

  const store = new Inbox(dynamoClient(readState().dynamo, "local"));
  const [acked, tail] = await Promise.all([store.acked(user), store.tail(user)]);
  const pending = await store.read(user, acked, limit);

  if (values.json) {
    process.stdout.write(JSON.stringify({ user, acked, tail, pending }, null, 2) + "\n");
    return 0;
  }
  process.stdout.write(
    `${user}: last sequence ${tail}, acknowledged up to ${acked}, ${tail - acked} pending\n`,
  );
  for (const e of pending) {
    const at = new Date(e.sentAt).toISOString();
    process.stdout.write(`  #${e.seq}  ${at}  from ${e.from}: ${e.body}\n`);
  }
  return 0;
}
