// Ids of users and groups: `name:region`. Every id is checked here before it
// is used in a Redis channel name, a ZooKeeper path or an inbox key.
import type { Regions } from "../../regions/schema.ts";
import { ChatError } from "./errors.ts";

/** The name part of an id. */
export const ID_NAME_PATTERN = /^[a-z0-9_-]{1,64}$/;

/** The longest id accepted, so the check is cheap on hostile input. */
const MAX_ID_LENGTH = 64 + 1 + 16;

export interface ParsedId {
  readonly id: string;
  readonly name: string;
  readonly region: string;
}

/**
 * Parses and validates a user or group id against the declared regions.
 * Throws a ChatError with code BAD_ID saying what to change.
 */
export function parseId(value: unknown, regions: Regions, what = "id"): ParsedId {
  if (typeof value !== "string" || value.length === 0) {
    throw new ChatError("BAD_ID", `${what} must be a string like "alice:usa"`);
  }
  if (value.length > MAX_ID_LENGTH) {
    throw new ChatError(
      "BAD_ID",
      `${what} is too long (at most ${MAX_ID_LENGTH} characters)`,
    );
  }

  const colon = value.indexOf(":");
  if (colon < 0 || colon !== value.lastIndexOf(":")) {
    throw new ChatError("BAD_ID", `${what} must be "name:region", like "alice:usa"`);
  }

  const name = value.slice(0, colon);
  const region = value.slice(colon + 1);
  if (!ID_NAME_PATTERN.test(name)) {
    throw new ChatError(
      "BAD_ID",
      `${what} name must be 1-64 of a-z, 0-9, "_" or "-" (got ${JSON.stringify(name)})`,
    );
  }
  if (!regions.has(region)) {
    const known = [...regions.keys()].join(", ");
    throw new ChatError(
      "BAD_ID",
      `${what} region ${JSON.stringify(region)} is not declared; use one of: ${known}`,
    );
  }
  return { id: value, name, region };
}

/** The region of an id. Only call with a parsed id. */
export function regionOf(id: string): string {
  return id.slice(id.indexOf(":") + 1);
}

/** The Redis channel of a user's topic. Only call with a parsed id. */
export function userTopic(userId: string): string {
  return `u:${userId}`;
}

/**
 * The Redis channel on which a group's messages reach the WSSs of one region
 * (per-group fan-out): `g:<group id>:<region>`. Only call with parsed ids.
 */
export function groupChannel(groupId: string, region: string): string {
  return `g:${groupId}:${region}`;
}

/** The Redis channel on which a region's WSSs learn of membership changes. */
export const GROUP_CONTROL_CHANNEL = "ctl:groups";
