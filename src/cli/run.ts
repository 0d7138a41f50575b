// `woolly run`, `woolly tokenize`, `woolly logits`: the model on the command line.
import { readGgufFile } from "../gguf/node-source.js";
import { Tokenizer } from "../tokenizer/index.js";
import { loadModelFile } from "../node.js";
import type { GenerateOptions } from "../generate/options.js";
import { modelPathArg, numberOption, parseArgs, samplingFromArgs, SAMPLING_OPTIONS, type OptionSpec } from "./args.js";
import { ParameterError } from "../errors.js";

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const RUN_OPTIONS: OptionSpec[] = [{ name: "prompt", short: "p" }, ...SAMPLING_OPTIONS, { name: "ctx", short: "c" }, { name: "stop" }];

/** Stream a completion to stdout, then prefill and decode speeds to stderr. */
export async function runCommand(argv: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const usage = 'woolly run MODEL.gguf -p "prompt" [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P] [--seed S] [--ctx N] [--stop STR]';
  const args = parseArgs(argv, RUN_OPTIONS);
  const path = modelPathArg(args, usage);
  const prompt = args.values.get("prompt") ?? args.positional[1] ?? "";
  const t0 = performance.now();
  const model = await loadModelFile(path, { contextLength: numberOption(args, "ctx") });
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

/** Print the ids of a text as a JSON array; needs only the tokenizer (vocab-only files work). */
export async function tokenizeCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, [{ name: "no-special", flag: true }, { name: "no-parse-special", flag: true }]);
  const path = modelPathArg(args, 'woolly tokenize MODEL.gguf "text" [--no-special]');
  const text = args.positional[1] ?? "";
  const tokenizer = Tokenizer.fromGguf(await readGgufFile(path));
  const ids = tokenizer.tokenize(text, {
    addSpecial: !args.flags.has("no-special"),
    parseSpecial: !args.flags.has("no-special") && !args.flags.has("no-parse-special"),
  });
  io.out(JSON.stringify(ids) + "\n");
  return 0;
}

/** Logits at every position, in the layout of the llama.cpp reference files. */
export async function logitsCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, [{ name: "tokens" }, { name: "prompt", short: "p" }, { name: "json", flag: true }, { name: "ctx", short: "c" }]);
  const path = modelPathArg(args, "woolly logits MODEL.gguf (--tokens 1,403,407 | -p TEXT) [--json]");
  const model = await loadModelFile(path, { contextLength: numberOption(args, "ctx") });
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
