// chatctl token: a user token signed with the local secret, on stdout alone.
import { loadRegions } from "../../regions/schema.ts";
import { secretKey, signUserToken } from "../shared/auth.ts";
import { ChatError } from "../shared/errors.ts";
import { parseId } from "../shared/ids.ts";
import { loadOrCreateSecrets } from "../local/secrets.ts";
import { parse, UsageError } from "./cli.ts";
import { SECRETS_FILE } from "./paths.ts";

export async function token(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ttl: { type: "string" } }, 1);
  const user = positionals[0];
  if (!user) throw new UsageError("usage: chatctl token <userId> [--ttl seconds]");

  const ttl = values.ttl === undefined ? 24 * 3600 : Number(values.ttl);
  if (!Number.isSafeInteger(ttl) || ttl < 1) {
    throw new UsageError("--ttl must be a positive number of seconds");
  }
  process.stdout.write(`${await userToken(user, ttl)}\n`);
  return 0;
}

/** Validates the id and signs a token for it with the local secret. */
export async function userToken(user: string, ttl = 24 * 3600): Promise<string> {
  try {
    parseId(user, loadRegions(), "userId");
  } catch (err) {
    if (err instanceof ChatError) throw new UsageError(err.message);
    throw err;
  }
  const secrets = loadOrCreateSecrets(SECRETS_FILE);
  return signUserToken(secretKey(secrets.jwtSecret), user, ttl);
}
