// The package as its users get it: `npm pack` of the built dist/ (once per run), installed into a
// fresh project, then imported the way each runtime's users import it — Node 20 and 24 by package
// name, Deno by `npm:woolly/node` and by file path from outside any project, Bun by package name,
// and a page bundled by esbuild from `import "woolly"`, run in headless Chromium. Each generates
// llama.cpp's greedy text. It also holds the dependency rule (scripts/build.mjs, README): dist/
// imports only its own files and node:* built-ins, the package has no runtime dependencies, and
// @huggingface/jinja is inlined once, shared by every entry.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "playwright-core";
import { FIXTURES } from "./helpers/fixtures.js";
import { BIN, ROOT, launchChromium, reportLine, requireInstalled, run, serveExample } from "./helpers/runtimes.js";

const STORIES = "stories260K-Q8_0";
const PROMPT = "Once upon a time";
const reference = JSON.parse(readFileSync(join(FIXTURES, "reference", `${STORIES}.p1.json`), "utf8")) as { greedy: number[]; greedy_bytes_hex: string };
/** llama.cpp's greedy continuation of the prompt (32 tokens). */
const GREEDY_TEXT = new TextDecoder().decode(Buffer.from(reference.greedy_bytes_hex, "hex"));
const CHATML = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
/** A string only @huggingface/jinja's code holds: where it is, the dependency is. */
const JINJA_MARKER = "Missing end of comment tag";

let tmp = "";
let project = "";
let installed = "";

/**
 * What a user's script does with the two entries: load a model from a file, generate, render a
 * chat template (jinja), and check that both entries share one copy of Woolly (a model from
 * "woolly/node" is a "woolly" Model; its errors are "woolly" errors).
 */
function consumerScript(index: string, node: string): string {
  return `import process from "node:process";
const woolly = await import(${JSON.stringify(index)});
const woollyNode = await import(${JSON.stringify(node)});
const fixtures = process.argv[2];
const model = await woollyNode.loadModelFile(fixtures + "/models/${STORIES}.gguf", { contextLength: 256, threads: 1 });
const result = await model.complete(${JSON.stringify(PROMPT)}, { maxTokens: ${reference.greedy.length}, temperature: 0 });
const chatml = new woolly.ChatTemplate(woolly.CHATML_TEMPLATE, "chatml").render([{ role: "user", content: "Hi" }], { bos: "<s>", eos: "</s>" });
let missing;
try { await woollyNode.loadModelFile(fixtures + "/models/no-such-model.gguf"); } catch (e) { missing = e; }
const report = {
  resolved: [import.meta.resolve(${JSON.stringify(index)}), import.meta.resolve(${JSON.stringify(node)})],
  text: result.text, simd: model.simd, modelIsModel: model instanceof woolly.Model,
  errorIsWoollyError: missing instanceof woolly.WoollyError,
  chatml,
};
model.dispose();
console.log("WOOLLY-PACKAGE-REPORT " + JSON.stringify(report));
`;
}

/** A page's module: bundled by esbuild from the installed package, then run in Chromium. */
const PAGE = `import { loadModel, Model } from "woolly";
try {
  const model = await loadModel(new URL("/fixtures/models/${STORIES}.gguf", location.href), { contextLength: 256, threads: 1 });
  const result = await model.complete(${JSON.stringify(PROMPT)}, { maxTokens: ${reference.greedy.length}, temperature: 0 });
  globalThis.__woollyPackage = { text: result.text, simd: model.simd, modelIsModel: model instanceof Model };
  model.dispose();
} catch (e) {
  globalThis.__woollyPackage = { error: String(e?.stack ?? e) };
}
`;

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist/index.js")) || !existsSync(join(ROOT, "dist/node.js"))) {
    throw new Error("dist/ is not built: run `node scripts/build.mjs` (npm test does it first)");
  }
  tmp = mkdtempSync(join(tmpdir(), "woolly-package-"));
  const pack = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp], { timeoutMs: 60_000 });
  expect(pack.code, pack.stderr).toBe(0);
  const tarball = join(tmp, (JSON.parse(pack.stdout) as { filename: string }[])[0].filename);
  project = join(tmp, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "woolly-consumer", private: true, type: "module" }));
  // Offline: with no runtime dependencies, the tarball is all there is to install.
  const install = await run("npm", ["install", "--offline", "--ignore-scripts", "--no-audit", "--no-fund", tarball], { cwd: project, timeoutMs: 60_000 });
  expect(install.code, install.stderr).toBe(0);
  installed = join(project, "node_modules/woolly");
  writeFileSync(join(project, "consumer.mjs"), consumerScript("woolly", "woolly/node"));
  writeFileSync(join(project, "consumer-deno.mjs"), consumerScript("npm:woolly", "npm:woolly/node"));
  // Outside the project: no package.json or node_modules above it to resolve a bare specifier with.
  const dist = pathToFileURL(join(installed, "dist")).href;
  writeFileSync(join(tmp, "by-path.mjs"), consumerScript(`${dist}/index.js`, `${dist}/node.js`));
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Relative and bare specifiers a file imports, statically and by import() of a literal. */
function specifiers(code: string): { static: string[]; dynamic: string[] } {
  const stat = [...code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"|^\s*import\s*"([^"]+)"/gm)].map((m) => m[1] ?? m[2]);
  const dynamic = [...code.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]);
  return { static: stat, dynamic };
}

describe("the packed package", () => {
  it("has no runtime dependencies, and dist/ imports only its own files and node:* built-ins", () => {
    const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as Record<string, unknown>;
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.peerDependencies).toBeUndefined();
    const files = readdirSync(join(installed, "dist")).filter((f) => f.endsWith(".js"));
    expect(files).toEqual(expect.arrayContaining(["index.js", "node.js", "worker.js", "cli.js", "bench.js"]));
    for (const file of files) {
      const { static: stat, dynamic } = specifiers(readFileSync(join(installed, "dist", file), "utf8"));
      for (const s of [...stat, ...dynamic]) {
        if (s.startsWith("./")) expect(existsSync(join(installed, "dist", s)), `${file} imports ${s}`).toBe(true);
        else expect(s, `${file} imports a bare specifier`).toMatch(/^node:/);
      }
    }
  });

  it("what a page loads (index.js, worker.js and their chunks) imports no node:* built-in statically", () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const { static: stat } = specifiers(readFileSync(join(installed, "dist", file), "utf8"));
      for (const s of stat) {
        expect(s, `${file}, loaded by a page`).toMatch(/^\.\//);
        visit(s.slice(2));
      }
    };
    visit("index.js");
    visit("worker.js");
    expect(seen.size).toBeGreaterThan(2);
  });

  it("@huggingface/jinja is inlined once, shared by every entry, with its licence in THIRD-PARTY-NOTICES.txt", () => {
    const dist = join(installed, "dist");
    const holders = readdirSync(dist).filter((f) => f.endsWith(".js") && readFileSync(join(dist, f), "utf8").includes(JINJA_MARKER));
    expect(holders).toHaveLength(1);
    expect(holders[0]).toMatch(/^chunk-/);
    const notices = readFileSync(join(dist, "THIRD-PARTY-NOTICES.txt"), "utf8");
    expect(notices).toMatch(/@huggingface\/jinja@\d+\.\d+\.\d+ \(MIT\)/);
    expect(notices).toContain("Copyright (c) 2023 Hugging Face");
  });
});

interface ConsumerReport {
  resolved: string[];
  text: string;
  simd: string;
  modelIsModel: boolean;
  errorIsWoollyError: boolean;
  chatml: string;
}

const nodeMajor = Number(process.versions.node.split(".")[0]);
// [name, executable, arguments before the script, script (relative to tmp), kernel build expected]
const consumers: [string, string, string[], string, string][] = [
  [`Node ${process.versions.node}: import("woolly"), import("woolly/node")`, process.execPath, [], "project/consumer.mjs", nodeMajor <= 20 ? "simd" : "relaxed"],
  ["Node 24: import(\"woolly\"), import(\"woolly/node\")", join(BIN, "node"), [], "project/consumer.mjs", "relaxed"],
  ["Deno: npm:woolly, npm:woolly/node (the project's node_modules)", join(BIN, "deno"), ["run", "--allow-read"], "project/consumer-deno.mjs", "relaxed"],
  ["Deno: dist/index.js and dist/node.js by path, from outside any project", join(BIN, "deno"), ["run", "--allow-read"], "by-path.mjs", "relaxed"],
  // Bun: relaxed-nofma, its relaxed_madd does not fuse (src/wasm/features.ts)
  ["Bun: import(\"woolly\"), import(\"woolly/node\")", join(BIN, "bun"), [], "project/consumer.mjs", "relaxed-nofma"],
];

describe("each runtime imports the installed package and generates llama.cpp's greedy text", () => {
  it.each(consumers)("%s", async (name, bin, args, script, simd) => {
    requireInstalled(name.split(":")[0], bin);
    const cwd = join(tmp, script, "..");
    const { code, stdout, stderr } = await run(bin, [...args, join(tmp, script), FIXTURES], { cwd, timeoutMs: 120_000 });
    const r = reportLine<ConsumerReport>("WOOLLY-PACKAGE-REPORT", stdout, stderr);
    expect(code, stderr).toBe(0);
    const dist = pathToFileURL(join(installed, "dist")).href;
    expect(r.resolved).toEqual([`${dist}/index.js`, `${dist}/node.js`]);
    expect(r.text).toBe(GREEDY_TEXT);
    expect(r.simd).toBe(simd);
    expect(r.modelIsModel).toBe(true);
    expect(r.errorIsWoollyError).toBe(true);
    expect(r.chatml).toBe(CHATML);
  }, 130_000);
});

describe("a page bundled by esbuild from `import \"woolly\"`", () => {
  let web = "";
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    web = join(tmp, "web");
    mkdirSync(web);
    writeFileSync(join(project, "page.mjs"), PAGE);
    writeFileSync(join(web, "index.html"), `<!doctype html><meta charset="utf-8"><script type="module" src="./page.js"></script>`);
  });

  afterAll(async () => {
    await browser?.close();
    server?.kill();
  });

  it("bundles for the browser with no errors or warnings, from the installed files only", async () => {
    const esbuild = await import("esbuild");
    const result = await esbuild.build({
      entryPoints: ["page.mjs"], bundle: true, format: "esm", platform: "browser",
      outfile: join(web, "page.js"), absWorkingDir: project, logLevel: "silent", metafile: true,
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs).sort();
    expect(inputs).toContain("node_modules/woolly/dist/index.js");
    for (const input of inputs) expect(input).toMatch(/^(page\.mjs|node_modules\/woolly\/dist\/[\w-]+\.js)$/);
  }, 60_000);

  it("runs in Chromium: llama.cpp's greedy text, relaxed SIMD", async () => {
    expect(existsSync(join(web, "page.js")), "the bundle from the test before").toBe(true);
    const served = await serveExample({ "/web/": web, "/fixtures/": FIXTURES });
    server = served.server;
    browser = await launchChromium();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${served.base}/web/index.html`);
    await page.waitForFunction(() => "__woollyPackage" in globalThis, undefined, { timeout: 60_000 });
    const r = (await page.evaluate(() => (globalThis as unknown as { __woollyPackage: unknown }).__woollyPackage)) as {
      text?: string;
      simd?: string;
      modelIsModel?: boolean;
      error?: string;
    };
    await page.close();
    expect(r.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(r.text).toBe(GREEDY_TEXT);
    expect(r.simd).toBe("relaxed");
    expect(r.modelIsModel).toBe(true);
  }, 120_000);
});
