// What a message is on the way in: validation of a send request and the
// message id that makes a retried send the same message.
import { createHash, randomUUID } from "node:crypto";

import type { Regions } from "../../regions/schema.ts";
import { ChatError } from "./errors.ts";
import { parseId } from "./ids.ts";

/** Longest message body, in characters. */
export const MAX_BODY_CHARS = 8192;
const CLIENT_MSG_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A send to one user (`to`) or to every member of a group (`group`). */
export type SendRequest =
  | {
      readonly to: string;
      readonly group?: undefined;
      readonly body: string;
      readonly clientMsgId: string;
    }
  | {
      readonly group: string;
      readonly to?: undefined;
      readonly body: string;
      readonly clientMsgId: string;
    };

/**
 * Validates `{to | group, body, clientMsgId?}`; a missing clientMsgId gets a
 * random one.
 */
export function parseSendRequest(input: unknown, regions: Regions): SendRequest {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ChatError(
      "BAD_REQUEST",
      'send a JSON object {"to" or "group", "body", "clientMsgId"}',
    );
  }
  const o = input as Record<string, unknown>;
  if ((o.to === undefined) === (o.group === undefined)) {
    throw new ChatError(
      "BAD_REQUEST",
      'name either "to" (a user) or "group" (a group), not both or neither',
    );
  }
  const target =
    o.to === undefined
      ? { group: parseId(o.group, regions, "group").id }
      : { to: parseId(o.to, regions, "to").id };

  if (typeof o.body !== "string" || o.body.length === 0) {
    throw new ChatError("BAD_REQUEST", "body must be a non-empty string");
  }
  // Characters are code points: an emoji counts once, not as its two halves.
  if (o.body.length > MAX_BODY_CHARS && codePoints(o.body) > MAX_BODY_CHARS) {
    throw new ChatError("PAYLOAD_TOO_LARGE", `body is over ${MAX_BODY_CHARS} characters`);
  }
  if (!isWellFormed(o.body)) {
    throw new ChatError(
      "BAD_REQUEST",
      "body is not valid Unicode text: it has half of a surrogate pair (\\ud800-\\udfff)",
    );
  }

  let clientMsgId = o.clientMsgId;
  if (clientMsgId === undefined) clientMsgId = randomUUID();
  if (typeof clientMsgId !== "string" || !CLIENT_MSG_ID.test(clientMsgId)) {
    throw new ChatError(
      "BAD_REQUEST",
      "clientMsgId must be 1-128 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'",
    );
  }
  return { ...target, body: o.body, clientMsgId };
}

/**
 * The message id: the same for every retry of one (sender, clientMsgId) to one
 * recipient, and different for every other message.
 */
export function messageId(from: string, clientMsgId: string, to: string): string {
  const digest = createHash("sha256")
    .update(`${from}\n${clientMsgId}\n${to}`)
    .digest("base64url");
  return `m_${digest.slice(0, 22)}`;
}

/**
 * The id of a message to a group: the same for every member's copy and every
 * retry, and never the id of a direct message (whose recipient could have the
 * same name as the group).
 */
export function groupMessageId(from: string, clientMsgId: string, group: string): string {
  return messageId(from, clientMsgId, `group ${group}`);
}

/**
 * The frame a client receives for one inbox entry; live and replayed alike.
 * `sentAt` is always last (the WSS reads it from the end).
 */
export function msgFrame(e: {
  seq: number;
  id: string;
  from: string;
  to: string;
  group?: string;
  body: string;
  sentAt: number;
}): string {
  return JSON.stringify({
    type: "msg",
    seq: e.seq,
    id: e.id,
    from: e.from,
    to: e.to,
    group: e.group,
    body: e.body,
    sentAt: e.sentAt,
  });
}

/** A group message as a chat server publishes it on a group channel (per-group fan-out). */
export interface GroupFrame {
  readonly type: "gmsg";
  readonly id: string;
  readonly from: string;
  readonly group: string;
  readonly body: string;
  readonly sentAt: number;
  /** Each member's sequence for this message (the members of one region's batch). */
  readonly seqs: Readonly<Record<string, number>>;
}

export function groupFrame(f: Omit<GroupFrame, "type">): string {
  const frame: GroupFrame = { type: "gmsg", ...f };
  return JSON.stringify(frame);
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** No unpaired UTF-16 surrogate: text that UTF-8 can carry unchanged. */
function isWellFormed(text: string): boolean {
  return !/\p{Surrogate}/u.test(text);
}
