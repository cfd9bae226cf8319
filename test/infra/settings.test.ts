// Deployment settings: defaults, environment over context, and errors that name the
// variable to fix.
import { describe, expect, it } from "vitest";

import { DeploySettingsError, readDeploySettings } from "../../infra/settings.ts";

const context =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];

describe("deployment settings", () => {
  it("default to a local backend, us-east-1 and the example domain", () => {
    const settings = readDeploySettings({});
    expect(settings).toMatchObject({
      domain: "chat.example.com",
      primaryAwsRegion: "us-east-1",
      wssClientCidrs: ["0.0.0.0/0"],
      imageTag: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    expect(settings.state).toBeUndefined();
    expect(Object.isFrozen(settings)).toBe(true);
  });

  it("read the cdktf context when no environment variable is set", () => {
    const settings = readDeploySettings(
      {},
      context({
        chatDomain: "chat.acme.io",
        imageTag: "v2",
        wssClientCidrs: ["10.0.0.0/8"],
      }),
    );
    expect(settings).toMatchObject({
      domain: "chat.acme.io",
      imageTag: "v2",
      wssClientCidrs: ["10.0.0.0/8"],
    });
  });

  it("prefer the environment over the context", () => {
    const settings = readDeploySettings(
      {
        CHAT_DOMAIN: "env.acme.io",
        CHAT_WSS_CLIENT_CIDRS: "192.0.2.0/24, 198.51.100.0/24",
      },
      context({ chatDomain: "ctx.acme.io" }),
    );
    expect(settings.domain).toBe("env.acme.io");
    expect(settings.wssClientCidrs).toEqual(["192.0.2.0/24", "198.51.100.0/24"]);
  });

  it("configure the S3 backend from the bucket, with the state region defaulting", () => {
    const settings = readDeploySettings({
      CHAT_STATE_BUCKET: "acme-state",
      CHAT_PRIMARY_AWS_REGION: "eu-west-1",
    });
    expect(settings.state).toEqual({
      bucket: "acme-state",
      region: "eu-west-1",
      keyPrefix: "chat",
    });
  });

  it.each([
    [{ CHAT_DOMAIN: "not a domain" }, /CHAT_DOMAIN \(context "chatDomain"\)/],
    [{ CHAT_IMAGE_TAG: "bad tag!" }, /CHAT_IMAGE_TAG/],
    [
      { CHAT_PRIMARY_AWS_REGION: "mars-1" },
      /CHAT_PRIMARY_AWS_REGION .*use an AWS region/,
    ],
    [{ CHAT_WSS_CLIENT_CIDRS: "10.0.0.1/8" }, /CHAT_WSS_CLIENT_CIDRS/],
    [{ CHAT_STATE_BUCKET: "Bad_Bucket" }, /CHAT_STATE_BUCKET/],
    [
      { CHAT_STATE_LOCK_TABLE: "locks" },
      /CHAT_STATE_LOCK_TABLE .*needs CHAT_STATE_BUCKET/,
    ],
  ])("reject %o naming the setting", (env, message) => {
    expect(() => readDeploySettings(env)).toThrow(DeploySettingsError);
    expect(() => readDeploySettings(env)).toThrow(message);
  });
});
