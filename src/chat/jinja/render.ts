// Chat templates compiled and rendered as Hugging Face transformers' apply_chat_template does
// with Python's jinja2: trim_blocks, lstrip_blocks, loop controls, `{% generation %}` rendering
// its body (the library's lexer does that), and the globals raise_exception, strftime_now (on a clock the caller gives) and tojson
// with json.dumps semantics. The engine is @huggingface/jinja; ./interpreter.ts holds the
// differences from jinja2 it corrects.
import { Environment, parse, tokenize } from "@huggingface/jinja";
import { createInterpreter, MAX_ITEMS } from "./interpreter.js";
import { fixTrailingCommas, joinExponents, rewritePlusModifiers, rewriteRawBlocks, rewriteTestArguments } from "./tokens.js";
import { pyStr, strftime, TemplateRuntimeError, typeName } from "./python.js";
import { arr, fn, int, isInt, isKwargs, none, obj, str, toValue, type Value } from "./values.js";

/** A parsed template. */
export type CompiledTemplate = ReturnType<typeof parse>;

/** The template's own `raise_exception(message)`: `message` is exactly the template's text. */
export class TemplateRaised extends Error {}

/**
 * Parses a template: `{% raw %}`, `{%+` and `+%}` rewritten (./tokens.ts), the library's lexer with jinja2's
 * trim_blocks and lstrip_blocks (it also drops transformers' `{% generation %}` tags, rendering
 * their body), the token-level corrections of ./tokens.ts, then the library's parser.
 */
export function compileTemplate(source: string): CompiledTemplate {
  // jinja2 reads \r\n and \r as \n (its newline_sequence), also for trim_blocks and lstrip_blocks.
  const normalized = rewritePlusModifiers(rewriteRawBlocks(source.replace(/\r\n?/g, "\n")));
  const tokens = tokenize(normalized, { lstrip_blocks: true, trim_blocks: true });
  return parse(joinExponents(fixTrailingCommas(rewriteTestArguments(tokens))));
}

/** Renders `variables` (plain JSON-like data) through a compiled template at the time `now`. */
export function renderTemplate(template: CompiledTemplate, variables: Readonly<Record<string, unknown>>, now: Date): string {
  const env = new Environment();
  for (const [name, value] of Object.entries(globals(now))) env.setVariable(name, value);
  // A variable of the caller's may shadow a global, as in jinja2.
  for (const [name, value] of Object.entries(variables)) {
    if (value !== undefined) env.setVariable(name, toValue(value));
  }
  return pyStr(createInterpreter(env).run(template));
}

function globals(now: Date): Record<string, Value> {
  return {
    true: toValue(true),
    false: toValue(false),
    none: none(),
    True: toValue(true),
    False: toValue(false),
    None: none(),
    raise_exception: fn(([message]) => {
      throw new TemplateRaised(message === undefined ? "" : pyStr(message));
    }),
    strftime_now: fn(([format]) => str(strftime(now, format === undefined ? "" : pyStr(format)))),
    range: fn((args) => {
      const ints = args.map((a) => (isInt(a) ? a.value : badRange(a)));
      const [start, stop, step] = ints.length === 1 ? [0, ints[0], 1] : [ints[0], ints[1], ints[2] ?? 1];
      if (step === 0) throw new TemplateRuntimeError("range() arg 3 must not be zero");
      if (Math.ceil((stop - start) / step) > MAX_ITEMS) {
        throw new TemplateRuntimeError(`Range too big. The sandbox blocks ranges larger than MAX_RANGE (${MAX_ITEMS}).`);
      }
      const out: Value[] = [];
      for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(int(i));
      return arr(out);
    }),
    // jinja2's dict(**kwargs) global.
    dict: fn((args) => {
      const last = args[args.length - 1];
      return obj(new Map(last !== undefined && isKwargs(last) ? last.value : []));
    }),
  };
}

function badRange(v: Value): never {
  throw new TemplateRuntimeError(`'${typeName(v)}' object cannot be interpreted as an integer`);
}
