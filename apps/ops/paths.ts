// Where local mode keeps its files: `.local/` in the project (git-ignored),
// or CHAT_LOCAL_DIR.
import { join } from "node:path";

import { PROJECT_ROOT } from "../local/runtime.ts";

export const LOCAL_DIR = process.env.CHAT_LOCAL_DIR || join(PROJECT_ROOT, ".local");
export const STATE_FILE = join(LOCAL_DIR, "state.json");
export const SECRETS_FILE = join(LOCAL_DIR, "secrets.json");
export const RUN_DIR = join(LOCAL_DIR, "run");
