// The group endpoints of the chat server's HTTP API: create a group, read it,
// list one's groups, add and remove members; and the internal endpoints other
// regions' chat servers call to store group copies and announce changes.
import type { IncomingMessage, ServerResponse } from "node:http";

import type { Regions } from "../../regions/schema.ts";
import { ChatError } from "../shared/errors.ts";
import type { Group, GroupStore } from "../shared/groups.ts";
import { readJson, sendJson } from "../shared/http.ts";
import { parseId } from "../shared/ids.ts";
import { MAX_BODY_CHARS } from "../shared/message.ts";
import type { Delivery } from "./delivery.ts";
import type { MembershipAnnouncer, MembershipChange } from "./membership.ts";

export interface GroupApiDeps {
  readonly regions: Regions;
  readonly groups: GroupStore;
  readonly delivery: Delivery;
  readonly announcer: MembershipAnnouncer;
}

/** Most members one request may add or remove. */
export const MAX_MEMBERS_PER_CHANGE = 1000;
const MAX_CHANGE_BYTES = 128 * 1024;
/** Group copies name up to a group's members: a larger body than a send. */
const MAX_COPIES_BYTES = 1024 * 1024;

const GROUP_PATH = /^\/v1\/groups\/([^/]+)(\/members)?$/;

/**
 * Handles a user's group request, or returns false when the route is not
 * one of the group routes. `user` authenticates the caller.
 */
export async function handleGroupRoute(
  deps: GroupApiDeps,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  user: () => Promise<string>,
): Promise<boolean> {
  if (pathname === "/v1/groups") {
    if (req.method === "GET") {
      const me = await user();
      sendJson(res, 200, { user: me, groups: await deps.groups.groupsOf(me) });
      return true;
    }
    if (req.method === "POST") {
      const me = await user();
      const input = object(await readJson(req, MAX_CHANGE_BYTES));
      const id = parseId(input.id, deps.regions, "id").id;
      const members = memberList(deps.regions, input.members ?? [], "members");
      const group = await deps.groups.create(id, me, members);
      await deps.announcer.announce({ op: "add", group: id, users: group.members });
      sendJson(res, 201, group);
      return true;
    }
    throw methodNotAllowed(req, "GET or POST");
  }

  const m = GROUP_PATH.exec(pathname);
  if (!m) return false;
  const id = parseId(decodePath(m[1]!), deps.regions, "group").id;

  if (!m[2]) {
    if (req.method !== "GET") throw methodNotAllowed(req, "GET");
    const me = await user();
    const group = await existing(deps.groups, id);
    if (!group.members.includes(me)) {
      throw new ChatError("FORBIDDEN", `${me} is not a member of ${id}`);
    }
    sendJson(res, 200, group);
    return true;
  }

  if (req.method !== "POST") throw methodNotAllowed(req, "POST");
  const me = await user();
  const input = object(await readJson(req, MAX_CHANGE_BYTES));
  const add = memberList(deps.regions, input.add ?? [], "add");
  const remove = memberList(deps.regions, input.remove ?? [], "remove");
  if (add.length + remove.length === 0) {
    throw new ChatError("BAD_REQUEST", 'name members to "add" or "remove"');
  }
  const group = await existing(deps.groups, id);
  const onlySelf = add.length === 0 && remove.every((r) => r === me);
  if (group.owner !== me && !(onlySelf && group.members.includes(me))) {
    throw new ChatError(
      "FORBIDDEN",
      `only the owner (${group.owner}) changes ${id}'s members; a member may remove itself`,
    );
  }
  if (remove.includes(group.owner)) {
    throw new ChatError("BAD_REQUEST", `the owner ${group.owner} cannot leave ${id}`);
  }

  let after = group;
  if (add.length > 0) after = await deps.groups.add(id, add);
  if (remove.length > 0) after = await deps.groups.remove(id, remove);
  await Promise.all([
    deps.announcer.announce({ op: "add", group: id, users: add }),
    deps.announcer.announce({ op: "remove", group: id, users: remove }),
  ]);
  sendJson(res, 200, after);
  return true;
}

/** POST /internal/v1/group-copies: a group message's copies for members served here. */
export async function handleCopies(
  deps: GroupApiDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const input = object(await readJson(req, MAX_COPIES_BYTES));
  const { id, from, group, body, sentAt } = input;
  if (
    typeof id !== "string" ||
    typeof body !== "string" ||
    body.length > MAX_BODY_CHARS ||
    typeof sentAt !== "number"
  ) {
    throw new ChatError(
      "BAD_REQUEST",
      "group copies need id, from, group, body and sentAt",
    );
  }
  const copies = {
    id,
    from: parseId(from, deps.regions, "from").id,
    group: parseId(group, deps.regions, "group").id,
    body,
    sentAt,
    members: memberList(deps.regions, input.members, "members", deps.groups.maxMembers),
  };
  sendJson(res, 200, await deps.delivery.storeCopies(copies));
}

/** POST /internal/v1/group-changes: a membership change to apply in this region. */
export async function handleChange(
  deps: GroupApiDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const input = object(await readJson(req, MAX_CHANGE_BYTES));
  if (input.op !== "add" && input.op !== "remove") {
    throw new ChatError("BAD_REQUEST", 'op must be "add" or "remove"');
  }
  const change: MembershipChange = {
    op: input.op,
    group: parseId(input.group, deps.regions, "group").id,
    users: memberList(deps.regions, input.users, "users"),
  };
  await deps.announcer.apply(change);
  sendJson(res, 200, { ok: true });
}

async function existing(groups: GroupStore, id: string): Promise<Group> {
  const group = await groups.get(id);
  if (!group) throw new ChatError("NOT_FOUND", `no group ${id}; create it first`);
  return group;
}

function object(input: unknown): Record<string, unknown> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ChatError("BAD_REQUEST", "send a JSON object");
  }
  return input as Record<string, unknown>;
}

function memberList(
  regions: Regions,
  value: unknown,
  what: string,
  max = MAX_MEMBERS_PER_CHANGE,
): string[] {
  if (!Array.isArray(value)) {
    throw new ChatError("BAD_REQUEST", `${what} must be an array of user ids`);
  }
  if (value.length > max) {
    throw new ChatError("BAD_REQUEST", `${what} names at most ${max} users per request`);
  }
  return [...new Set(value.map((v, i) => parseId(v, regions, `${what}[${i}]`).id))];
}

function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ChatError(
      "BAD_ID",
      "the group id in the path is not valid percent-encoding",
    );
  }
}

function methodNotAllowed(req: IncomingMessage, allowed: string): ChatError {
  return new ChatError("BAD_REQUEST", `${req.method} is not served here; use ${allowed}`);
}
