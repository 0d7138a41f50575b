// The `woolly` command in-process: run, tokenize, logits, and how it reports bad usage.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { main } from "../src/cli/main.js";
import { loadModelFile } from "../src/node.js";
import { fixturePath } from "./helpers/fixtures.js";

const STORIES = fixturePath("models", "stories260K-Q8_0.gguf");
const ref = JSON.parse(readFileSync(fixturePath("models", "../reference/stories260K-Q8_0.p1.json"), "utf8")) as {
  prompt: number[];
  greedy: number[];
};

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("woolly CLI", () => {
  it("run streams the prompt and its greedy continuation, then speeds", async () => {
    const r = await cli("run", STORIES, "-p", "Once upon a time", "-n", "12", "--temp", "0");
    expect(r.code).toBe(0);
    const model = await loadModelFile(STORIES);
    const expected = await model.complete("Once upon a time", { temperature: 0, maxTokens: 12 });
    model.dispose();
    expect(r.out).toBe("Once upon a time" + expected.text + "\n");
    expect(r.err).toMatch(/prefill: 5 tokens in [\d.]+ ms, [\d.]+ tokens\/s/);
    expect(r.err).toMatch(/decode: +11 tokens/);
  });

  it("tokenize prints llama.cpp's ids for a vocab-only file", async () => {
    const r = await cli("tokenize", fixturePath("tokenizer", "ggml-vocab-llama-spm.gguf"), "Hello world", "--no-special");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([15043, 3186]);
    const withBos = await cli("tokenize", fixturePath("tokenizer", "ggml-vocab-llama-spm.gguf"), "Hello world");
    expect(JSON.parse(withBos.out)).toEqual([1, 15043, 3186]);
  });

  it("logits --json prints the reference layout", async () => {
    const r = await cli("logits", STORIES, "--tokens", ref.prompt.join(","), "--json");
    expect(r.code).toBe(0);
    const got = JSON.parse(r.out) as { prompt: number[]; logits: number[][] };
    expect(got.prompt).toEqual(ref.prompt);
    expect(got.logits).toHaveLength(ref.prompt.length);
    const last = got.logits[ref.prompt.length - 1];
    expect(last.indexOf(Math.max(...last))).toBe(ref.greedy[0]);
  });

  it("reports bad usage and bad files as one line with the error kind", async () => {
    const unknown = await cli("frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown command "frobnicate"/);
    const missing = await cli("run");
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/MODEL must be a GGUF file path/);
    const badOption = await cli("run", STORIES, "--temperature", "1");
    expect(badOption.err).toMatch(/option must be one of .*--temp.*; got "--temperature"/);
    const notGguf = await cli("inspect", fixturePath("tokenizer", "ggml-vocab-llama-spm.gguf.inp"));
    expect(notGguf.code).toBe(1);
    const badTokens = await cli("logits", STORIES, "--tokens", "1,x");
    expect(badTokens.err).toMatch(/--tokens must be comma-separated integer token ids/);
  });

  it("the built bin runs when started through a symlink, as npx and npm's .bin start it", () => {
    // npm test builds dist/ before vitest runs.
    const dir = mkdtempSync(join(tmpdir(), "woolly-bin-"));
    const link = join(dir, "woolly");
    symlinkSync(resolve("dist/cli.js"), link);
    const out = execFileSync(process.execPath, [link, "tokenize", fixturePath("tokenizer", "ggml-vocab-llama-spm.gguf"), "Hello world", "--no-special"], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual([15043, 3186]);
  });
});
