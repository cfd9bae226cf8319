// Groups: who is a member of what, stored durably beside the inbox (items of
// the control table, the dedup table) and kept in each region's Redis as every
// user's group list, which is what a WSS reads to know which group channels to
// subscribe to in per-group fan-out.
//
// A group item `group|<id>` holds the owner and the member set: the truth. A
// user item `groups|<user>` holds the set of groups the user belongs to, an
// index derived from it. There are no transactions in the store, so a change
// writes the group item first, then brings each changed user's index in line
// with what the group item says, reading it again after writing until the two
// agree (see reconcile): whatever order concurrent adds and removes of one
// user land in, the last index write follows the final member set. Every
// change is idempotent, so a client retries a failed one.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Redis } from "ioredis";

import { ChatError } from "./errors.ts";
import { withDefaults } from "./options.ts";

export interface Group {
  readonly id: string;
  readonly owner: string;
  /** Member ids, sorted. */
  readonly members: readonly string[];
  readonly createdAt: number;
}

export interface GroupStoreOptions {
  /** The control table (hash key `k`). @default "chat-dedup" */
  readonly table?: string;
  /** Most members a group may have. @default 5000 */
  readonly maxMembers?: number;
  /** Most groups a user may belong to. @default 1000 */
  readonly maxGroupsPerUser?: number;
}

const DEFAULTS = Object.freeze({
  table: "chat-dedup",
  maxMembers: 5000,
  maxGroupsPerUser: 1000,
});

const groupKey = (id: string) => `group|${id}`;
const userKey = (user: string) => `groups|${user}`;

/** Parallel writes per membership change. */
const WRITE_CONCURRENCY = 16;

export class GroupStore {
  readonly maxMembers: number;
  private readonly doc: DynamoDBDocumentClient;
  private readonly o: Required<GroupStoreOptions>;

  constructor(client: DynamoDBClient, options: GroupStoreOptions = {}) {
    this.o = withDefaults(DEFAULTS, options);
    this.maxMembers = this.o.maxMembers;
    this.doc = DynamoDBDocumentClient.from(client);
  }

  /**
   * Creates a group owned by `owner` (a member too) with `members`. Creating a
   * group that exists with the same owner adds the members (a retried create);
   * one owned by someone else is refused.
   */
  async create(id: string, owner: string, members: readonly string[]): Promise<Group> {
    const all = unique([owner, ...members]);
    this.checkSize(all.length);
    await this.checkRoom(id, all);
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.o.table,
          Item: { k: groupKey(id), owner, createdAt: Date.now() },
          ConditionExpression: "attribute_not_exists(k)",
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const existing = await this.get(id);
      if (existing?.owner !== owner) {
        throw new ChatError("FORBIDDEN", `group ${id} exists; pick another id`);
      }
    }
    return this.add(id, all);
  }

  /** The group, or undefined when there is none. */
  async get(id: string): Promise<Group | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.o.table,
        Key: { k: groupKey(id) },
        ConsistentRead: true,
      }),
    );
    const item = out.Item;
    if (!item) return undefined;
    const members = item.members instanceof Set ? [...(item.members as Set<string>)] : [];
    return {
      id,
      owner: String(item.owner),
      members: members.sort(),
      createdAt: Number(item.createdAt),
    };
  }

  /** Adds members (idempotent); returns the group after the change. */
  async add(id: string, members: readonly string[]): Promise<Group> {
    const adding = unique(members);
    const before = await this.require(id);
    this.checkSize(new Set([...before.members, ...adding]).size);
    await this.checkRoom(id, adding);

    if (adding.length > 0) {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.o.table,
          Key: { k: groupKey(id) },
          UpdateExpression: "ADD members :m",
          ConditionExpression: "attribute_exists(k)",
          ExpressionAttributeValues: { ":m": new Set(adding) },
        }),
      );
    }
    return this.reconcile(id, adding);
  }

  /** Removes members (idempotent); returns the group after the change. */
  async remove(id: string, members: readonly string[]): Promise<Group> {
    const removing = unique(members);
    await this.require(id);
    if (removing.length > 0) {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.o.table,
          Key: { k: groupKey(id) },
          UpdateExpression: "DELETE members :m",
          ExpressionAttributeValues: { ":m": new Set(removing) },
        }),
      );
    }
    return this.reconcile(id, removing);
  }

  /**
   * Makes each user's index say what the group item says of them: writes
   * it, reads the group again, and writes again for those whose membership
   * changed meanwhile. Returns the group as last read.
   */
  private async reconcile(id: string, users: readonly string[]): Promise<Group> {
    let group = await this.require(id);
    let pending = [...users];
    for (let round = 0; pending.length > 0; round++) {
      const wrote = new Map<string, boolean>();
      const members = new Set(group.members);
      await eachLimited(pending, WRITE_CONCURRENCY, async (user) => {
        const member = members.has(user);
        wrote.set(user, member);
        await this.setIndex(user, id, member);
      });
      group = await this.require(id);
      const now = new Set(group.members);
      pending = pending.filter((u) => now.has(u) !== wrote.get(u));
      if (round >= 10 && pending.length > 0) {
        throw new ChatError("UNAVAILABLE", `${id} keeps changing; retry the change`);
      }
    }
    return group;
  }

  private async setIndex(user: string, id: string, member: boolean): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.o.table,
        Key: { k: userKey(user) },
        UpdateExpression: member ? "ADD #g :g" : "DELETE #g :g",
        ExpressionAttributeNames: { "#g": "groups" },
        ExpressionAttributeValues: { ":g": new Set([id]) },
      }),
    );
  }

  /** The groups `user` belongs to, sorted. */
  async groupsOf(user: string): Promise<string[]> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.o.table,
        Key: { k: userKey(user) },
        ConsistentRead: true,
      }),
    );
    const groups = out.Item?.groups;
    return groups instanceof Set ? [...(groups as Set<string>)].sort() : [];
  }

  private async require(id: string): Promise<Group> {
    const group = await this.get(id);
    if (!group) throw new ChatError("NOT_FOUND", `no group ${id}; create it first`);
    return group;
  }

  /** Refuses a change that would put a user in more groups than allowed. */
  private async checkRoom(id: string, users: readonly string[]): Promise<void> {
    await eachLimited(users, WRITE_CONCURRENCY, async (user) => {
      const groups = await this.groupsOf(user);
      if (groups.length >= this.o.maxGroupsPerUser && !groups.includes(id)) {
        throw new ChatError(
          "BAD_REQUEST",
          `${user} is in ${this.o.maxGroupsPerUser} groups already; ` +
            "they must leave one (or be removed from one) first",
        );
      }
    });
  }

  private checkSize(n: number): void {
    if (n > this.o.maxMembers) {
      throw new ChatError(
        "BAD_REQUEST",
        `a group has at most ${this.o.maxMembers} members (this change makes ${n})`,
      );
    }
  }
}

/** Redis keys of a user's group list and of its version in a region's Redis. */
const cacheKey = (user: string) => `ug:${user}`;
const versionKey = (user: string) => `ugv:${user}`;
/** Member of every cached list, so that an empty list is told apart from none cached. */
const PRESENT = ".";

/**
 * Caches a list read from the store only if no change invalidated it since the
 * read began (the version is what it was then).
 * KEYS: list, version. ARGV: version read before, ttl seconds, groups...
 */
const FILL_SCRIPT = `
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SADD', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1`;

export interface UserGroupsOptions {
  /** Seconds a cached list lives; membership changes also invalidate it. @default 600 */
  readonly ttlSeconds?: number;
}

/**
 * Each user's group list in the region's Redis, read through from the group
 * store when it is not cached. A membership change invalidates the list
 * (and bumps its version, so a read that raced the change does not cache
 * what it read).
 */
export class UserGroups {
  private readonly ttl: number;

  constructor(
    private readonly redis: Redis,
    private readonly store: GroupStore,
    options: UserGroupsOptions = {},
  ) {
    this.ttl = options.ttlSeconds ?? 600;
  }

  /** The groups of `user`, from Redis or, when not cached there, from the store. */
  async get(user: string): Promise<string[]> {
    const [[, cached], [, version]] = (await this.redis
      .pipeline()
      .smembers(cacheKey(user))
      .get(versionKey(user))
      .exec()) as [[unknown, string[]], [unknown, string | null]];
    if (cached.length > 0) return cached.filter((g) => g !== PRESENT).sort();

    const groups = await this.store.groupsOf(user);
    await this.redis.eval(
      FILL_SCRIPT,
      2,
      cacheKey(user),
      versionKey(user),
      version ?? "0",
      this.ttl,
      PRESENT,
      ...groups,
    );
    return groups;
  }

  /** Forgets the cached lists of `users`. */
  async invalidate(users: readonly string[]): Promise<void> {
    if (users.length === 0) return;
    const p = this.redis.pipeline();
    for (const user of users) {
      p.incr(versionKey(user))
        .expire(versionKey(user), this.ttl * 2)
        .del(cacheKey(user));
    }
    const results = (await p.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
  }
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
