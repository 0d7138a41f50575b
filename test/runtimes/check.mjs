// Runs the shared checks (checks.mjs) on the built package in whichever runtime runs this file:
//   node|deno run -A|bun test/runtimes/check.mjs [--threads 1,2] [--fixtures DIR]
// Imports dist/ by path, never the sources, so what is proven is what ships. Prints one line
// `WOOLLY-RUNTIME-REPORT {json}` for test/runtimes.test.ts, and exits 1 when a check failed.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { runChecks } from "./checks.mjs";

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const fixtures = opt("--fixtures") ?? fileURLToPath(new URL("../../../shared/fixtures/", import.meta.url));
const threads = (opt("--threads") ?? "").split(",").filter(Boolean).map(Number);

const dist = new URL("../../dist/", import.meta.url);
const woolly = await import(new URL("index.js", dist).href);
const woollyNode = await import(new URL("node.js", dist).href);

const runtime =
  typeof globalThis.Deno !== "undefined"
    ? `deno ${globalThis.Deno.version.deno}`
    : typeof globalThis.Bun !== "undefined"
      ? `bun ${globalThis.Bun.version}`
      : `node ${process.versions.node}`;

const report = await runChecks({
  woolly,
  runtime,
  threads,
  // Read in place from the shared fixtures, through the package's own file loader.
  load: (name, options) => woollyNode.loadModelFile(`${fixtures}/models/${name}.gguf`, options),
  reference: async (name) => JSON.parse(await readFile(`${fixtures}/reference/${name}.p1.json`, "utf8")),
});
console.log(`WOOLLY-RUNTIME-REPORT ${JSON.stringify(report)}`);
process.exit(report.ok ? 0 : 1);
