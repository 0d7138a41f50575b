// Loading a model for a command: the load flags every model command shares (run, chat, serve,
// logits), the progress line on a terminal, and Ctrl-C during the load as a clean exit.
import { loadModelFile } from "../model/load-node.js";
import { loadModel, type LoadOptions } from "../model/load.js";
import type { Model } from "../model/model.js";
import { KV_TYPES, type KvType } from "../model/kv-cache.js";
import { numberOption, type OptionSpec, type ParsedArgs } from "./args.js";
import type { CliIo } from "./run.js";

const SIMD_CHOICES = ["auto", "simd", "relaxed-nofma", "relaxed"] as const;

/** The load flags, one table for every command that loads a model. */
export const LOAD_OPTIONS: readonly OptionSpec[] = [
  { name: "ctx", short: "c", value: "N", description: "KV cache positions (default: the model's context length, at most 4096)" },
  { name: "threads", short: "t", value: "N", description: "threads running the kernels, 1 to 64 (default: the machine's logical cores)" },
  {
    name: "simd",
    choices: SIMD_CHOICES,
    description: "kernel build: auto picks the fastest this engine runs right: relaxed, relaxed-nofma (relaxed multiply-add not fused), or simd (default auto)",
  },
  {
    name: "kv-type",
    choices: KV_TYPES,
    description: "KV cache format: f16, or q8_0 (8-bit, 53% of the memory; logits move by 8-bit noise) (default f16)",
  },
];

/** The load options those flags give (absent flags stay undefined: the library's defaults). */
export function loadOptionsFromArgs(args: ParsedArgs): Pick<LoadOptions, "contextLength" | "threads" | "simd" | "kvType"> {
  // parseArgs has already refused anything but the choices.
  const simd = args.values.get("simd") as (typeof SIMD_CHOICES)[number] | undefined;
  const kvType = args.values.get("kv-type") as KvType | undefined;
  return { contextLength: numberOption(args, "ctx"), threads: numberOption(args, "threads"), simd, kvType };
}

/**
 * Load the model at `path` with the load flags in `args`. On a terminal (`io.errIsTTY`) one progress
 * line is redrawn in place on stderr and cleared at the end; on a pipe nothing is drawn, so logs stay
 * clean. Resolves null when `signal` fired during the load: the user's Ctrl-C, a clean exit, whatever
 * the interrupted read threw.
 */
export async function loadForCommand(path: string, args: ParsedArgs, io: CliIo, signal?: AbortSignal): Promise<Model | null> {
  const progress = io.errIsTTY ? progressLine(io, path) : undefined;
  // A URL or hf: reference downloads once into the cache (WOOLLY_CACHE, else ~/.cache/woolly).
  const remote = /^(https?:\/\/|hf:)/i.test(path);
  const download = remote && io.errIsTTY ? progressLine(io, path, "downloading") : undefined;
  try {
    const options: LoadOptions = { ...loadOptionsFromArgs(args), signal, onProgress: progress?.update };
    const model = remote
      ? await loadModel(path, {
          ...options,
          cache: true,
          onDownloadProgress: download && ((p) => download.update({ loadedBytes: p.receivedBytes, totalBytes: p.totalBytes ?? p.receivedBytes })),
        })
      : await loadModelFile(path, options);
    // An abort after the last tensor arrived has nothing left in the load to stop it.
    if (signal?.aborted) {
      model.dispose();
      return null;
    }
    return model;
  } catch (e) {
    if (signal?.aborted) return null;
    throw e;
  } finally {
    download?.clear();
    progress?.clear();
  }
}

/**
 * `loading NAME: 12.5 / 50.0 MB (25%), 310.2 MB/s`, redrawn with \r. Redrawn when the whole percent
 * changes, not on a timer: at most 101 writes for any model, and the same writes on every machine.
 */
function progressLine(io: CliIo, path: string, verb = "loading"): { update: (p: { loadedBytes: number; totalBytes: number }) => void; clear: () => void } {
  const name = path.split(/[\\/]/).pop() ?? path;
  const t0 = performance.now();
  let shownPercent = -1;
  let drawn = false;
  const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
  return {
    update({ loadedBytes, totalBytes }) {
      const percent = totalBytes > 0 ? Math.floor((loadedBytes / totalBytes) * 100) : 100;
      if (percent === shownPercent) return;
      shownPercent = percent;
      const seconds = (performance.now() - t0) / 1000;
      const speed = seconds > 0 ? `, ${mb(loadedBytes / seconds)} MB/s` : "";
      io.err(`\r\x1b[K${verb} ${name}: ${mb(loadedBytes)} / ${mb(totalBytes)} MB (${percent}%)${speed}`);
      drawn = true;
    },
    clear() {
      // ESC[K erases to the end of the line, so the next output starts on a clean line.
      if (drawn) io.err("\r\x1b[K");
    },
  };
}
