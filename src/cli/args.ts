// A small command-line parser: positional arguments, `--name value`, `--name=value`, `-x value`,
// and boolean flags. Unknown options are errors that name the option.
import { ParameterError } from "../errors.js";
import type { GenerateOptions } from "../generate/options.js";

export interface OptionSpec {
  /** Long name without dashes, e.g. "top-k". */
  readonly name: string;
  /** One-letter alias, e.g. "n". */
  readonly short?: string;
  /** A flag takes no value. */
  readonly flag?: boolean;
}

export interface ParsedArgs {
  readonly positional: string[];
  readonly values: Map<string, string>;
  readonly flags: Set<string>;
}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const positional: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
      spec = byName.get(name);
      if (!spec) throw new ParameterError("option", `one of ${specs.map((s) => "--" + s.name).join(", ")}`, a);
    } else if (a.length === 2 && a[0] === "-" && a[1] !== "-" && Number.isNaN(Number(a))) {
      spec = byShort.get(a[1]);
      if (!spec) throw new ParameterError("option", `one of ${specs.filter((s) => s.short).map((s) => "-" + s.short).join(", ")}`, a);
    } else {
      positional.push(a);
      continue;
    }
    if (spec.flag) {
      flags.add(spec.name);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ParameterError(`--${spec.name}`, "followed by a value", "nothing");
    values.set(spec.name, value);
  }
  return { positional, values, flags };
}

/** A numeric option, or undefined when absent; a malformed number is a ParameterError. */
export function numberOption(args: ParsedArgs, name: string): number | undefined {
  const v = args.values.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new ParameterError(`--${name}`, "a number", v);
  return n;
}

/** The GGUF path every model command takes first; its absence names the command's usage. */
export function modelPathArg(args: ParsedArgs, usage: string): string {
  const path = args.positional[0];
  if (path === undefined) throw new ParameterError("MODEL", `a GGUF file path (usage: ${usage})`, "nothing");
  return path;
}

/** The sampling flags `run` and `chat` share. */
export const SAMPLING_OPTIONS: readonly OptionSpec[] = [
  { name: "n-predict", short: "n" },
  { name: "temp" },
  { name: "top-k" },
  { name: "top-p" },
  { name: "min-p" },
  { name: "repeat-penalty" },
  { name: "seed" },
];

/** The generation options those flags give (absent flags stay undefined: the library's defaults). */
export function samplingFromArgs(args: ParsedArgs): Pick<GenerateOptions, "maxTokens" | "temperature" | "topK" | "topP" | "minP" | "repeatPenalty" | "seed"> {
  return {
    maxTokens: numberOption(args, "n-predict"),
    temperature: numberOption(args, "temp"),
    topK: numberOption(args, "top-k"),
    topP: numberOption(args, "top-p"),
    minP: numberOption(args, "min-p"),
    repeatPenalty: numberOption(args, "repeat-penalty"),
    seed: numberOption(args, "seed"),
  };
}
