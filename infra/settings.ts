// Deployment-wide settings: everything that is the same for every region of one
// deployment (DNS zone, image tag, state backend, ...). Region-specific sizing lives in
// regions/<id>.json instead. Each setting is read from an environment variable first,
// then from the cdktf context (cdktf.json "context" or `--context`), then a default.
import { readFileSync } from "node:fs";

import { AWS_REGIONS } from "../regions/schema.ts";

/** Where Terraform keeps the state of each stack when the S3 backend is enabled. */
export interface StateBackendSettings {
  /** S3 bucket that holds every stack's state (one object per stack). */
  readonly bucket: string;
  /** AWS region of the bucket. */
  readonly region: string;
  /** Object key prefix; a stack's state is `<keyPrefix>/<stack>.tfstate`. */
  readonly keyPrefix: string;
  /**
   * DynamoDB table used for locking. When absent, the S3 native lock file
   * (`use_lockfile`, Terraform >= 1.10) is used instead.
   */
  readonly lockTable?: string;
}

/** The settings of one deployment, validated and frozen. */
export interface DeploySettings {
  /** Public Route 53 hosted zone that serves the endpoints, e.g. `chat.example.com`. */
  readonly domain: string;
  /** Tag of the `chat/wss` and `chat/chat-server` images to run. */
  readonly imageTag: string;
  /** AWS region of the global stack's own resources and the inbox tables' first copy. */
  readonly primaryAwsRegion: string;
  /** CIDRs allowed to reach the public WebSocket endpoint. */
  readonly wssClientCidrs: readonly string[];
  /** S3 state backend; absent means the cdktf default local backend. */
  readonly state?: StateBackendSettings;
}

/** One setting: its environment variable, its context key and its default. */
interface SettingSource {
  readonly env: string;
  readonly context: string;
}

/** Reads cdktf context values; `App.node.tryGetContext` fits. */
export type ContextReader = (key: string) => unknown;

/** The environment variable and context key of every setting. */
export const SETTING_SOURCES = Object.freeze({
  domain: { env: "CHAT_DOMAIN", context: "chatDomain" },
  imageTag: { env: "CHAT_IMAGE_TAG", context: "imageTag" },
  primaryAwsRegion: { env: "CHAT_PRIMARY_AWS_REGION", context: "primaryAwsRegion" },
  wssClientCidrs: { env: "CHAT_WSS_CLIENT_CIDRS", context: "wssClientCidrs" },
  stateBucket: { env: "CHAT_STATE_BUCKET", context: "stateBucket" },
  stateRegion: { env: "CHAT_STATE_REGION", context: "stateRegion" },
  stateKeyPrefix: { env: "CHAT_STATE_KEY_PREFIX", context: "stateKeyPrefix" },
  stateLockTable: { env: "CHAT_STATE_LOCK_TABLE", context: "stateLockTable" },
} satisfies Record<string, SettingSource>);

/** Defaults; none of them is a secret. The image tag defaults to the package version. */
export const SETTING_DEFAULTS = Object.freeze({
  domain: "chat.example.com",
  primaryAwsRegion: "us-east-1",
  wssClientCidrs: Object.freeze(["0.0.0.0/0"]),
  stateKeyPrefix: "chat",
});

/** A deployment setting with a bad value: names the variable and context key to fix. */
export class DeploySettingsError extends Error {
  readonly code = "DEPLOY_SETTING_INVALID";

  constructor(source: SettingSource, detail: string) {
    super(`${source.env} (context "${source.context}") ${detail}`);
    this.name = "DeploySettingsError";
  }
}

const DOMAIN_PATTERN =
  /^(?=.{4,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const IMAGE_TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const KEY_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9/_.-]{0,200}$/;
const TABLE_PATTERN = /^[A-Za-z0-9_.-]{3,255}$/;

/**
 * Reads the deployment settings from `env` (first) and `context` (second), applies the
 * defaults and validates every value. Throws DeploySettingsError naming the setting.
 */
export function readDeploySettings(
  env: NodeJS.ProcessEnv = process.env,
  context: ContextReader = () => undefined,
): DeploySettings {
  const read = (source: SettingSource): string | undefined => {
    const fromEnv = env[source.env]?.trim();
    if (fromEnv) return fromEnv;

    const fromContext = context(source.context);
    if (fromContext === undefined || fromContext === null || fromContext === "") {
      return undefined;
    }
    if (Array.isArray(fromContext)) return fromContext.map(String).join(",");
    return String(fromContext).trim();
  };
  const S = SETTING_SOURCES;

  const domain = (read(S.domain) ?? SETTING_DEFAULTS.domain).toLowerCase();
  check(S.domain, DOMAIN_PATTERN.test(domain), `is "${domain}"; use a DNS name`);

  const imageTag = read(S.imageTag) ?? packageVersion();
  check(
    S.imageTag,
    IMAGE_TAG_PATTERN.test(imageTag),
    `is "${imageTag}"; not a valid tag`,
  );

  const primaryAwsRegion = read(S.primaryAwsRegion) ?? SETTING_DEFAULTS.primaryAwsRegion;
  checkAwsRegion(S.primaryAwsRegion, primaryAwsRegion);

  const cidrText = read(S.wssClientCidrs);
  const wssClientCidrs = cidrText
    ? cidrText
        .split(",")
        .map((c) => c.trim())
        .filter((c) => c !== "")
    : [...SETTING_DEFAULTS.wssClientCidrs];
  check(S.wssClientCidrs, wssClientCidrs.length > 0, "lists no CIDR");
  for (const cidr of wssClientCidrs) {
    check(S.wssClientCidrs, isClientCidr(cidr), `holds "${cidr}"; use IPv4 CIDRs`);
  }

  return Object.freeze({
    domain,
    imageTag,
    primaryAwsRegion,
    wssClientCidrs: Object.freeze(wssClientCidrs),
    state: readStateBackend(read, primaryAwsRegion),
  });
}

function readStateBackend(
  read: (source: SettingSource) => string | undefined,
  primaryAwsRegion: string,
): StateBackendSettings | undefined {
  const S = SETTING_SOURCES;
  const bucket = read(S.stateBucket);
  if (!bucket) {
    for (const other of [S.stateRegion, S.stateKeyPrefix, S.stateLockTable]) {
      check(other, read(other) === undefined, `needs ${S.stateBucket.env} to be set too`);
    }
    return undefined;
  }

  check(
    S.stateBucket,
    BUCKET_PATTERN.test(bucket),
    `is "${bucket}"; not an S3 bucket name`,
  );
  const region = read(S.stateRegion) ?? primaryAwsRegion;
  checkAwsRegion(S.stateRegion, region);
  const keyPrefix = (read(S.stateKeyPrefix) ?? SETTING_DEFAULTS.stateKeyPrefix).replace(
    /\/+$/,
    "",
  );
  check(S.stateKeyPrefix, KEY_PREFIX_PATTERN.test(keyPrefix), `is "${keyPrefix}"`);
  const lockTable = read(S.stateLockTable);
  if (lockTable !== undefined) {
    check(S.stateLockTable, TABLE_PATTERN.test(lockTable), `is "${lockTable}"`);
  }

  return Object.freeze({
    bucket,
    region,
    keyPrefix,
    ...(lockTable === undefined ? {} : { lockTable }),
  });
}

function checkAwsRegion(source: SettingSource, region: string): void {
  check(source, AWS_REGIONS.includes(region), `is "${region}"; use an AWS region`);
}

function check(source: SettingSource, ok: boolean, detail: string): void {
  if (!ok) throw new DeploySettingsError(source, detail);
}

function isClientCidr(cidr: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return false;

  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return false;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  return address % 2 ** (32 - prefix) === 0;
}

let cachedVersion: string | undefined;

function packageVersion(): string {
  if (cachedVersion) return cachedVersion;

  const url = new URL("../package.json", import.meta.url);
  const pkg = JSON.parse(readFileSync(url, "utf8")) as { version?: string };
  cachedVersion = pkg.version ?? "0.0.0";
  return cachedVersion;
}
