// woolly-bench e2e's cache flags, end to end through the built bin (dist/bench.js, as `npx woolly-bench`
// runs it): --kv times each KV cache format, --decode-after times decode behind a longer prompt.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { fixturePath } from "./helpers/fixtures.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BENCH = join(ROOT, "dist", "bench.js");
// head size 32: the smallest a q8_0 cache takes
const MODEL = fixturePath("models", "synth-llama-Q8_0.gguf");

function bench(...args: string[]) {
  const r = spawnSync(process.execPath, [BENCH, "e2e", "--model", MODEL, ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Row {
  readonly kvType: string;
  readonly kvCacheBytes: number;
  readonly phase: string;
  readonly tokens: number;
  readonly tokensPerS: number;
  readonly context: number;
}

beforeAll(() => {
  if (!existsSync(BENCH)) throw new Error("dist/ is not built: run `node scripts/build.mjs` (npm test does it first)");
});

describe("woolly-bench e2e --kv and --decode-after", () => {
  it("times prefill and decode for each cache format, decode behind the longer prompt", () => {
    const r = bench("--prefill", "8", "--decode", "4", "--decode-after", "40", "--kv", "f16,q8_0", "--runs", "1", "--threads", "1", "--json");
    expect(r.code, r.err).toBe(0);
    const rows = r.out.trim().split("\n").map((l) => JSON.parse(l) as Row);
    expect(rows.map((x) => `${x.kvType} ${x.phase} ${x.tokens} ${x.context}`)).toEqual([
      "f16 prefill 8 0",
      "f16 decode 4 40",
      "q8_0 prefill 8 0",
      "q8_0 decode 4 40",
    ]);
    for (const x of rows) expect(x.tokensPerS).toBeGreaterThan(0);
    // the same positions in 34 bytes per 32 values instead of 64
    expect(rows[2].kvCacheBytes / rows[0].kvCacheBytes).toBeCloseTo(34 / 64, 6);
  });

  it("refuses a cache format it does not know, naming the flag", () => {
    const r = bench("--kv", "q4_0");
    expect(r.code).toBe(1);
    expect(r.err).toContain("--kv takes f16, q8_0 separated by commas; got q4_0");
  });
});
