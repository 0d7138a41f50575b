// A small command-line parser: positional arguments, `--name value`, `--name=value`, `-x value`,
// and boolean flags. Unknown options are errors that name the option. The same tables that parse
// the options also write the usage lines and `--help` (usageLine, commandHelp), so help cannot drift
// from what is accepted.
import { ParameterError } from "../errors.js";
import type { GenerateOptions } from "../generate/options.js";

export interface OptionSpec {
  /** Long name without dashes, e.g. "top-k". */
  readonly name: string;
  /** One-letter alias, e.g. "n". */
  readonly short?: string;
  /** A flag takes no value. */
  readonly flag?: boolean;
  /** The value's placeholder in usage lines, e.g. "N" (default: the choices joined by "|", else "VALUE"). */
  readonly value?: string;
  /** The only values accepted; anything else is a ParameterError listing them. */
  readonly choices?: readonly string[];
  /** One line for `--help` (the commands' tables all have one; bench's private table needs none). */
  readonly description?: string;
}

/** A sub-command as its usage line and `woolly COMMAND --help` show it. */
export interface CommandSpec {
  readonly name: string;
  /** The positional operands, as shown after the command name, e.g. 'MODEL.gguf "text"'. */
  readonly operands: string;
  /** What the command does, one line. */
  readonly summary: string;
  readonly options: readonly OptionSpec[];
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
    if (spec.choices && !spec.choices.includes(value)) throw new ParameterError(`--${spec.name}`, oneOf(spec.choices), value);
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
export function modelPathArg(args: ParsedArgs, command: CommandSpec): string {
  const path = args.positional[0];
  if (path === undefined) {
    throw new ParameterError("MODEL", `a GGUF file path (usage: woolly ${command.name} ${command.operands} [options]; "woolly ${command.name} --help" lists them)`, "nothing");
  }
  return path;
}

/** The sampling flags `run` and `chat` share. */
export const SAMPLING_OPTIONS: readonly OptionSpec[] = [
  { name: "n-predict", short: "n", value: "N", description: "tokens to generate at most (run: default 128; chat: until the context is full)" },
  { name: "temp", value: "T", description: "temperature; 0 is greedy (default 0.8)" },
  { name: "top-k", value: "K", description: "sample among the K most likely tokens (default 40; 0 is off)" },
  { name: "top-p", value: "P", description: "sample among the most likely tokens whose probabilities sum to P (default 0.95)" },
  { name: "min-p", value: "P", description: "drop tokens less likely than P times the most likely one (default 0.05)" },
  { name: "repeat-penalty", value: "R", description: "penalty on recently generated tokens (default 1, none)" },
  { name: "seed", value: "S", description: "random seed, for repeatable sampling" },
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

function oneOf(choices: readonly string[]): string {
  return choices.length === 1 ? choices[0] : `${choices.slice(0, -1).join(", ")} or ${choices[choices.length - 1]}`;
}

function placeholder(o: OptionSpec): string {
  return o.value ?? o.choices?.join("|") ?? "VALUE";
}

/** How an option is written in a usage line: `[--temp T]`, `[--json]`. */
function optionUsage(o: OptionSpec): string {
  return o.flag ? `[--${o.name}]` : `[--${o.name} ${placeholder(o)}]`;
}

/**
 * `woolly COMMAND OPERANDS [--option VALUE]…`, wrapped at `width` columns with continuation lines
 * indented under the first option (Infinity: one line).
 */
export function usageLine(command: CommandSpec, width = 100): string {
  const head = `woolly ${command.name} ${command.operands}`;
  const indent = " ".repeat(`woolly ${command.name} `.length);
  const lines = [head];
  for (const part of command.options.map(optionUsage)) {
    const last = lines[lines.length - 1];
    if (last.length + 1 + part.length > width && last.trim() !== "") lines.push(indent + part);
    else lines[lines.length - 1] = `${last} ${part}`;
  }
  return lines.join("\n");
}

/** `woolly COMMAND --help`: the summary, the usage line, and each option with its description. */
export function commandHelp(command: CommandSpec): string {
  const names = command.options.map((o) => `${o.short ? `-${o.short}, ` : "    "}--${o.name}${o.flag ? "" : ` ${placeholder(o)}`}`);
  const width = Math.max(0, ...names.map((n) => n.length));
  const rows = command.options.map((o, i) => `  ${names[i].padEnd(width)}  ${o.description ?? ""}${o.choices && o.value ? ` (${oneOf(o.choices)})` : ""}`);
  return `woolly ${command.name}: ${command.summary}\n\nusage:\n  ${usageLine(command).replace(/\n/g, "\n  ")}\n${rows.length > 0 ? `\noptions:\n${rows.join("\n")}\n` : ""}`;
}
