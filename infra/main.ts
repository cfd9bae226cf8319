// The CDKTF app: `chat-global` plus one `chat-<id>` stack per file in regions/.
// `cdktf synth` runs this file (see cdktf.json); tests and bench/synth.ts call buildApp.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

import { App } from "cdktf";

import { REGIONS_DIR, loadDeployment, loadRegions } from "../regions/schema.ts";
import type { Regions } from "../regions/schema.ts";
import { readDeploySettings } from "./settings.ts";
import type { DeploySettings } from "./settings.ts";
import { GlobalStack } from "./stacks/global-stack.ts";
import { RegionStack } from "./stacks/region-stack.ts";

export interface BuildAppOptions {
  /**
   * Folder of region files.
   * @default the CHAT_REGIONS_DIR environment variable, else the project's regions/
   */
  readonly regionsDir?: string;
  /**
   * Where `synth()` writes the stacks.
   * @default CDKTF_OUTDIR, else "cdktf.out"
   */
  readonly outdir?: string;
  /**
   * Environment the deployment settings are read from.
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * cdktf context values, merged over what the cdktf CLI passes in.
   * @default none
   */
  readonly context?: Readonly<Record<string, unknown>>;
}

/** The app and its stacks, for callers that inspect them before or after synth. */
export interface ChatApp {
  readonly app: App;
  readonly settings: DeploySettings;
  readonly regions: Regions;
  readonly globalStack: GlobalStack;
  /** Region stacks by region id. */
  readonly regionStacks: ReadonlyMap<string, RegionStack>;
}

/** Builds every stack of the deployment; call `app.synth()` to write them. */
export function buildApp(options: BuildAppOptions = {}): ChatApp {
  const env = options.env ?? process.env;
  const regionsDir = options.regionsDir ?? env.CHAT_REGIONS_DIR ?? REGIONS_DIR;
  const regions = loadRegions(resolve(regionsDir));
  const deployment = loadDeployment(resolve(regionsDir));

  // Stack traces in construct metadata cost a large share of synth time; keep them off
  // unless someone debugging asks (CDKTF_STACK_TRACES=1).
  const app = new App({
    outdir: options.outdir,
    stackTraces: env.CDKTF_STACK_TRACES === "1",
    context: options.context ? { ...options.context } : undefined,
  });
  const settings = readDeploySettings(env, (key) => app.node.tryGetContext(key));

  const globalStack = new GlobalStack(app, { regions, settings });
  const regionStacks = new Map(
    [...regions.values()].map((region) => [
      region.id,
      new RegionStack(app, { region, regions, deployment, settings }),
    ]),
  );
  return { app, settings, regions, globalStack, regionStacks };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  buildApp().app.synth();
}
