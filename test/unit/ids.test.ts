import { describe, expect, it } from "vitest";

import { loadRegions } from "../../regions/schema.ts";
import { parseId, userTopic } from "../../apps/shared/ids.ts";
import {
  groupMessageId,
  messageId,
  parseSendRequest,
} from "../../apps/shared/message.ts";

const regions = loadRegions();

describe("ids", () => {
  it("accepts name:region with a declared region", () => {
    expect(parseId("alice:usa", regions)).toEqual({
      id: "alice:usa",
      name: "alice",
      region: "usa",
    });
    expect(parseId("team_42-x:eu", regions).region).toBe("eu");
    expect(userTopic("alice:usa")).toBe("u:alice:usa");
  });

  const bad: [unknown, RegExp][] = [
    ["alice", /must be "name:region"/],
    ["alice:mars", /region "mars" is not declared; use one of: eu, usa/],
    ["Alice:usa", /name must be 1-64 of a-z/],
    ["../x:usa", /name must be/],
    ["a/b:usa", /name must be/],
    ["a\u0000b:usa", /name must be/],
    [":usa", /name must be/],
    ["a:b:usa", /must be "name:region"/],
    [`${"a".repeat(65)}:usa`, /name must be/],
    ["x".repeat(10_000), /too long/],
    [42, /must be a string/],
    ["", /must be a string/],
  ];
  for (const [value, message] of bad) {
    it(`rejects ${JSON.stringify(value).slice(0, 30)}`, () => {
      expect(() => parseId(value, regions)).toThrow(message);
      try {
        parseId(value, regions);
      } catch (err) {
        expect((err as { code: string }).code).toBe("BAD_ID");
      }
    });
  }
});

describe("send requests", () => {
  it("validates body and clientMsgId and fills a missing clientMsgId", () => {
    const req = parseSendRequest({ to: "bob:eu", body: "hi" }, regions);
    expect(req.clientMsgId).toMatch(/^[0-9a-f-]{36}$/);
    expect(() => parseSendRequest({ to: "bob:eu", body: "" }, regions)).toThrow(
      /non-empty/,
    );
    expect(() =>
      parseSendRequest({ to: "bob:eu", body: "x".repeat(9000) }, regions),
    ).toThrow(/over 8192/);
    expect(() =>
      parseSendRequest({ to: "bob:eu", body: "x", clientMsgId: "a b" }, regions),
    ).toThrow(/clientMsgId/);
    expect(() => parseSendRequest([], regions)).toThrow(/JSON object/);
  });

  it("counts a body's characters as code points and refuses broken surrogates", () => {
    const send = (body: string) => () =>
      parseSendRequest({ to: "bob:eu", body }, regions);
    // 8192 emoji are 16384 UTF-16 units and 8192 characters.
    expect(send("😀".repeat(8192))().body).toHaveLength(16384);
    expect(send("😀".repeat(8193))).toThrow(/over 8192 characters/);
    expect(send("x".repeat(8192))().body).toHaveLength(8192);
    for (const broken of ["a\ud800", "\udfffb", "😀".slice(0, 1), "x\udc00\ud800y"]) {
      expect(send(broken)).toThrow(/surrogate/);
    }
    expect(send("ok 😀 ok")().body).toBe("ok 😀 ok");
  });

  it("gives a retried send the same id, and other sends other ids", () => {
    const id = messageId("alice:usa", "c1", "bob:eu");
    expect(messageId("alice:usa", "c1", "bob:eu")).toBe(id);
    expect(messageId("alice:usa", "c2", "bob:eu")).not.toBe(id);
    expect(messageId("carol:usa", "c1", "bob:eu")).not.toBe(id);
    expect(messageId("alice:usa", "c1", "dave:eu")).not.toBe(id);
  });

  it("never gives a group message the id of a direct message to a same-named user", () => {
    const group = groupMessageId("alice:usa", "c1", "bob:eu");
    expect(group).not.toBe(messageId("alice:usa", "c1", "bob:eu"));
    expect(groupMessageId("alice:usa", "c1", "bob:eu")).toBe(group);
  });
});
