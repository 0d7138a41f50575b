// What the tests that run the BUILT package in other runtimes share (test/runtimes.test.ts,
// test/packaging.test.ts): where the runtimes are, running one, and headless Chromium with the
// example server in front of it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const RUNTIMES = join(ROOT, "test/runtimes");
/** Node 24, Deno and Bun, pinned in test/runtimes/package.json. */
export const BIN = join(RUNTIMES, "node_modules/.bin");
export const CHROMIUM = "/usr/bin/chromium";
export const INSTALL = "install the runtimes with `bash scripts/install-runtimes.sh` (as root for Chromium; .ci/run does this)";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to completion (never rejects: a failure is a non-zero code with the reason in stderr). */
export function run(cmd: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: options.cwd ?? ROOT, timeout: options.timeoutMs ?? 180_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr: stderr + (err && typeof err.code !== "number" ? `\n${err.message}` : "") });
    });
  });
}

/** A missing runtime FAILS the test, saying how to install it. */
export function requireInstalled(name: string, path: string): void {
  if (!existsSync(path)) throw new Error(`${name} is not installed (no ${path}): ${INSTALL}`);
}

/** The JSON after `PREFIX ` on the line a check script prints it on. */
export function reportLine<T>(prefix: string, stdout: string, stderr: string): T {
  const line = stdout.split("\n").find((l) => l.startsWith(prefix + " "));
  if (!line) throw new Error(`no ${prefix} line\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  return JSON.parse(line.slice(prefix.length + 1)) as T;
}

/**
 * scripts/serve-example.mjs on a free port (dist/ at /dist/, the example at /, COOP/COEP set), with
 * `mounts` (URL prefix → folder) added. Resolves to its base URL and the process, to kill after.
 */
export async function serveExample(mounts: Record<string, string>): Promise<{ base: string; server: ChildProcess }> {
  const args = [join(ROOT, "scripts/serve-example.mjs"), "--port", "0"];
  for (const [prefix, dir] of Object.entries(mounts)) args.push("--mount", `${prefix}=${dir}`);
  const server = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const base = await new Promise<string>((resolve, reject) => {
    let seen = "";
    server.stdout?.on("data", (d: Buffer) => {
      seen += d.toString();
      const m = /Serving (http:\/\/\S+?)\/?\s/.exec(seen);
      if (m) resolve(m[1]);
    });
    server.on("exit", (code) => reject(new Error(`scripts/serve-example.mjs exited with ${code}: ${seen}`)));
  });
  return { base, server };
}

/** Headless Chromium as this machine needs it (see ../shared docs): no sandbox as root, nothing that phones home. */
export function launchChromium(): Promise<Browser> {
  requireInstalled("Chromium", CHROMIUM);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
