// A small command-line parser: positional arguments, `--name value`, `--name=value`, `-x value`,
// and boolean flags. Unknown options are errors that name the option.
import { ParameterError } from "../errors.js";

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
