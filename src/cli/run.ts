// `woolly run`, `woolly tokenize`, `woolly logits`: the model on the command line.
import { readGgufFile } from "../gguf/node-source.js";
import { Tokenizer } from "../tokenizer/index.js";
import type { GenerateOptions } from "../generate/options.js";
import { modelPathArg, parseArgs, samplingFromArgs, SAMPLING_OPTIONS, type CommandSpec } from "./args.js";
import { loadForCommand, LOAD_OPTIONS } from "./load.js";
import { ParameterError } from "../errors.js";

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /**
   * Whether `err` writes to a terminal (bin.ts: process.stderr.isTTY). Carried here, not read from
   * process.stderr inside a command, so tests can drive both cases. Only a terminal gets the
   * load progress line, which redraws itself with \r.
   */
  readonly errIsTTY?: boolean;
}

export const RUN_COMMAND: CommandSpec = {
  name: "run",
  operands: "MODEL.gguf [PROMPT]",
  summary: "stream a completion of the prompt to stdout, then the load, prefill and decode speeds to stderr",
  options: [
    { name: "prompt", short: "p", value: "TEXT", description: "the prompt (or the argument after MODEL.gguf)" },
    ...SAMPLING_OPTIONS,
    { name: "stop", value: "STR", description: "a string that ends the completion (not printed)" },
    ...LOAD_OPTIONS,
  ],
};

/** Stream a completion to stdout, then prefill and decode speeds to stderr. */
export async function runCommand(argv: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const args = parseArgs(argv, RUN_COMMAND.options);
  const path = modelPathArg(args, RUN_COMMAND);
  const prompt = args.values.get("prompt") ?? args.positional[1] ?? "";
  const t0 = performance.now();
  const model = await loadForCommand(path, args, io, signal);
  if (!model) return 0;
  const loadMs = performance.now() - t0;
  try {
    const sampling = samplingFromArgs(args);
    const options: GenerateOptions = {
      ...sampling,
      maxTokens: sampling.maxTokens ?? 128,
      stop: args.values.has("stop") ? [args.values.get("stop") as string] : undefined,
      signal,
    };
    io.out(prompt);
    const g = model.generate(prompt, options);
    for await (const piece of g) io.out(piece);
    const r = await g.result;
    const t = r.timings;
    io.out("\n");
    io.err(
      `\nloaded in ${loadMs.toFixed(0)} ms (${model.simd} kernels)\n` +
        `prefill: ${t.prefillTokens} tokens in ${t.prefillMs.toFixed(1)} ms, ${t.prefillTokensPerSecond.toFixed(2)} tokens/s\n` +
        `decode:  ${t.decodeTokens} tokens in ${t.decodeMs.toFixed(1)} ms, ${t.decodeTokensPerSecond.toFixed(2)} tokens/s\n` +
        `finish:  ${r.finishReason}\n`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}

export const TOKENIZE_COMMAND: CommandSpec = {
  name: "tokenize",
  operands: 'MODEL.gguf "text"',
  summary: "print the token ids of a text as a JSON array (vocab-only files work)",
  options: [
    { name: "no-special", flag: true, description: "add no BOS/EOS and read special tokens as plain text" },
    { name: "no-parse-special", flag: true, description: "read special tokens such as <|im_start|> as plain text" },
  ],
};

/** Print the ids of a text as a JSON array; needs only the tokenizer (vocab-only files work). */
export async function tokenizeCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, TOKENIZE_COMMAND.options);
  const path = modelPathArg(args, TOKENIZE_COMMAND);
  const text = args.positional[1] ?? "";
  const tokenizer = Tokenizer.fromGguf(await readGgufFile(path));
  const ids = tokenizer.tokenize(text, {
    addSpecial: !args.flags.has("no-special"),
    parseSpecial: !args.flags.has("no-special") && !args.flags.has("no-parse-special"),
  });
  io.out(JSON.stringify(ids) + "\n");
  return 0;
}

export const LOGITS_COMMAND: CommandSpec = {
  name: "logits",
  operands: "MODEL.gguf",
  summary: "the logits at every position of a prompt, in the layout of llama.cpp's reference files",
  options: [
    { name: "tokens", value: "IDS", description: "the prompt as comma-separated token ids, e.g. 1,403,407" },
    { name: "prompt", short: "p", value: "TEXT", description: "the prompt as text (when --tokens is absent)" },
    { name: "json", flag: true, description: "one JSON object {prompt, logits} instead of each position's argmax" },
    ...LOAD_OPTIONS,
  ],
};

/** Logits at every position, in the layout of the llama.cpp reference files. */
export async function logitsCommand(argv: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const args = parseArgs(argv, LOGITS_COMMAND.options);
  const path = modelPathArg(args, LOGITS_COMMAND);
  const model = await loadForCommand(path, args, io, signal);
  if (!model) return 0;
  try {
    let ids: number[];
    const list = args.values.get("tokens");
    if (list !== undefined) {
      ids = list.split(",").map((s) => Number(s.trim()));
      if (ids.some((n) => !Number.isInteger(n))) throw new ParameterError("--tokens", "comma-separated integer token ids", list);
    } else {
      ids = model.tokenize(args.values.get("prompt") ?? "");
    }
    const logits = await model.logits(ids);
    if (args.flags.has("json")) {
      io.out(JSON.stringify({ prompt: ids, logits: logits.map((row) => Array.from(row)) }) + "\n");
    } else {
      for (let t = 0; t < ids.length; t++) {
        const row = logits[t];
        let best = 0;
        for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
        io.out(`${t}\ttoken ${ids[t]}\targmax ${best} (${JSON.stringify(model.detokenize([best]))})\tlogit ${row[best].toFixed(4)}\n`);
      }
    }
    return 0;
  } finally {
    model.dispose();
  }
}
