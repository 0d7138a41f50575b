// The `woolly` command in-process: run, tokenize, logits, and how it reports bad usage.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { help, main } from "../src/cli/main.js";
import { commandHelp, usageLine } from "../src/cli/args.js";
import { LOAD_OPTIONS } from "../src/cli/load.js";
import { LOGITS_COMMAND, RUN_COMMAND, TOKENIZE_COMMAND } from "../src/cli/run.js";
import { CHAT_COMMAND } from "../src/cli/chat.js";
import { SERVE_COMMAND } from "../src/cli/serve.js";
import { INSPECT_COMMAND } from "../src/cli/inspect.js";
import { TEMPLATE_COMMAND } from "../src/cli/template.js";
import { EMBED_COMMAND } from "../src/cli/embed.js";
import { loadModelFile } from "../src/node.js";
import { fixturePath } from "./helpers/fixtures.js";

const STORIES = fixturePath("models", "stories260K-Q8_0.gguf");
const ref = JSON.parse(readFileSync(fixturePath("models", "../reference/stories260K-Q8_0.p1.json"), "utf8")) as {
  prompt: number[];
  greedy: number[];
};

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return cliOn(false, ...argv);
}

/** The command with stderr on a terminal (`errIsTTY`) or on a pipe. */
async function cliOn(errIsTTY: boolean, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), errIsTTY });
  return { code, out, err };
}

const MODEL_COMMANDS = [RUN_COMMAND, CHAT_COMMAND, SERVE_COMMAND, LOGITS_COMMAND, EMBED_COMMAND];
const ALL_COMMANDS = [...MODEL_COMMANDS, TOKENIZE_COMMAND, INSPECT_COMMAND, TEMPLATE_COMMAND];

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

  it("run takes the shared load flags: --threads, --simd, --ctx", async () => {
    const r = await cli("run", STORIES, "-p", "Once upon a time", "-n", "4", "--temp", "0", "--threads", "1", "--simd", "simd", "--ctx", "64");
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/loaded in \d+ ms \(simd kernels\)/);
    const bad = await cli("run", STORIES, "--simd", "avx");
    expect(bad.code).toBe(1);
    expect(bad.err).toBe('woolly: --simd must be auto, simd, relaxed-nofma or relaxed; got "avx" [invalid_parameter]\n');
    const badThreads = await cli("logits", STORIES, "--tokens", "1", "--threads", "0");
    expect(badThreads.err).toMatch(/threads must be an integer in \[1, 64\]; got 0/);
  });

  it("every command that loads a model takes the same load flags", async () => {
    for (const command of MODEL_COMMANDS) {
      for (const option of LOAD_OPTIONS) expect(command.options, command.name).toContain(option);
    }
    // The README's table of them names the same flags.
    const readme = readFileSync("README.md", "utf8");
    for (const option of LOAD_OPTIONS) expect(readme).toContain(`--${option.name}`);
    const r = await cli("logits", STORIES, "--tokens", ref.prompt.join(","), "--json", "-c", "32", "-t", "1", "--simd", "simd");
    expect(r.code).toBe(0);
    const got = JSON.parse(r.out) as { logits: number[][] };
    const last = got.logits[ref.prompt.length - 1];
    expect(last.indexOf(Math.max(...last))).toBe(ref.greedy[0]);
  });

  it("help is written from the tables that parse the flags", async () => {
    const all = await cli("--help");
    expect(all.code).toBe(0);
    expect(all.out).toBe(help());
    for (const command of ALL_COMMANDS) {
      expect(all.out).toContain(usageLine(command).replace(/\n/g, "\n  "));
      const one = await cli(command.name, "--help");
      expect(one.code).toBe(0);
      expect(one.out).toBe(commandHelp(command));
      for (const option of command.options) {
        expect(one.out).toContain(`--${option.name}`);
        if (option.short) expect(one.out).toContain(`-${option.short}, --${option.name}`);
        expect(option.description ?? "", `--${option.name}`).toMatch(/\S/);
        expect(one.out).toContain(option.description);
      }
    }
    expect(usageLine(RUN_COMMAND)).toContain("[--threads N]");
    expect(usageLine(RUN_COMMAND)).toContain("[--simd auto|simd|relaxed-nofma|relaxed]");
    expect((await cli("run", "-h")).out).toMatch(/^ {2}-t, --threads N +threads running the kernels/m);
    // After "--" it is an operand: here the prompt, continued greedily.
    const prompt = await cli("run", STORIES, "-n", "2", "--temp", "0", "--", "--help");
    expect(prompt.code).toBe(0);
    expect(prompt.out.startsWith("--help")).toBe(true);
  });

  it("loading shows one progress line on a terminal, cleared when done, and nothing on a pipe", async () => {
    const tty = await cliOn(true, "run", STORIES, "-p", "Once", "-n", "2", "--temp", "0");
    expect(tty.code).toBe(0);
    const drawn = tty.err.split("\r\x1b[K");
    // Each redraw returns to the line's start and erases it; the last one leaves the line empty.
    const lines = drawn.filter((l) => l.startsWith("loading "));
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l).toMatch(/^loading stories260K-Q8_0\.gguf: \d+\.\d \/ \d+\.\d MB \(\d+%\)(, \d+\.\d MB\/s)?$/);
    expect(lines[lines.length - 1]).toMatch(/\(100%\), \d+\.\d MB\/s$/);
    const percents = lines.map((l) => Number(/\((\d+)%\)/.exec(l)?.[1]));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(new Set(percents).size).toBe(percents.length);
    // Cleared before anything else is printed: the rest of stderr starts on an empty line.
    expect(drawn[lines.length + 1]).toMatch(/^\nloaded in/);
    const pipe = await cliOn(false, "run", STORIES, "-p", "Once", "-n", "2", "--temp", "0");
    expect(pipe.code).toBe(0);
    expect(pipe.err).not.toContain("loading ");
    expect(pipe.err).not.toContain("\r");
    expect(pipe.out).toBe(tty.out);
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
