// The page's files, held in memory: index.html and style.css as they are in
// web/, and app.js bundled from web/main.tsx by esbuild when the console starts
// (a fraction of a second), so no build output is ever kept in the repository.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), "web");

/** The files the page loads, by URL path. Nothing else is served. */
export async function loadAssets(): Promise<ReadonlyMap<string, Asset>> {
  const [html, css, js] = await Promise.all([
    readFile(join(WEB_DIR, "index.html")),
    readFile(join(WEB_DIR, "style.css")),
    bundle(),
  ]);
  return new Map([
    ["/", { type: "text/html; charset=utf-8", body: html }],
    ["/style.css", { type: "text/css; charset=utf-8", body: css }],
    ["/app.js", { type: "text/javascript; charset=utf-8", body: js }],
  ]);
}

async function bundle(): Promise<Buffer> {
  try {
    const result = await build({
      entryPoints: [join(WEB_DIR, "main.tsx")],
      bundle: true,
      write: false,
      format: "esm",
      target: "es2022",
      platform: "browser",
      jsx: "automatic",
      jsxImportSource: "preact",
      minify: true,
      legalComments: "none",
      logLevel: "silent",
    });
    return Buffer.from(result.outputFiles[0]!.contents);
  } catch (err) {
    throw new Error(`could not bundle the console page (${WEB_DIR}/main.tsx)`, {
      cause: err,
    });
  }
}
