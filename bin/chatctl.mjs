#!/usr/bin/env node
// chatctl: the operator's command-line tool. The sources are TypeScript, run
// through tsx's loader so no build step stands between a clone and this tool.
import { register } from "tsx/esm/api";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
register();
await import("../apps/ops/chatctl.ts");
