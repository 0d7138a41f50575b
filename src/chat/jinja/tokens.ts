// PATCH LAYER over @huggingface/jinja's lexer and parser (see ./README.md): syntax jinja2 accepts
// that the library does not, rewritten into syntax it does — in the source before the lexer, or
// in its token stream before the parser.
import type { tokenize } from "@huggingface/jinja";

export type Token = ReturnType<typeof tokenize>[number];

/** The filter name a test with arguments becomes (`x is divisibleby(3)` → `x|<prefix>divisibleby(3)`). */
export const TEST_FILTER = "__woolly_test__";
export const NEGATED_TEST_FILTER = "__woolly_test_not__";

const token = (type: string, value: string): Token => ({ type, value }) as Token;

/**
 * `{% raw %}…{% endraw %}`: the body becomes a string literal, `{% if true %}{{ '…' }}{% endif %}`,
 * with jinja2's whitespace rules for the two tags applied to the body here (a newline right after
 * `{% raw %}` stays; lstrip_blocks takes the indent before `{% endraw %}`; `-` strips the body's
 * edge). Braces, `%` and `#` are escaped so that the lexer's own preprocessing cannot touch them.
 */
export function rewriteRawBlocks(source: string): string {
  return source.replace(
    /\{%([-+]?)\s*raw\s*(-?)%\}([\s\S]*?)\{%([-+]?)\s*endraw\s*([-+]?)%\}/g,
    (_whole, before: string, afterOpen: string, body: string, beforeClose: string, after: string) => {
      let text = afterOpen === "-" ? body.replace(/^\s+/, "") : body;
      if (beforeClose === "-") text = text.replace(/\s+$/, "");
      else if (beforeClose === "") text = text.replace(/\n[ \t]+$/, "\n");
      const literal = text.replace(/[\\'\n\r\t{}%#]/g, (c) => ESCAPES[c] ?? c);
      const open = before === "+" ? `${KEEP}{%` : before === "-" ? "{%-" : "{%";
      const close = after === "+" ? `%}${KEEP}` : after === "-" ? "-%}" : "%}";
      return `${open} if true %}{{ '${literal}' }}{% endif ${close}`;
    },
  );
}

/** Renders nothing, and stands between a tag and the whitespace the lexer's regexes would strip. */
const KEEP = "{{ '' }}";

/**
 * `{%+ …` keeps the indent before the tag (no lstrip_blocks) and `… +%}` the newline after it (no
 * trim_blocks); the library's lexer knows neither, so an empty output is put between.
 */
export function rewritePlusModifiers(source: string): string {
  return source.replace(/\{%\+/g, `${KEEP}{%`).replace(/\+%\}/g, `%}${KEEP}`);
}

const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "'": "\\'",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "{": "\\x7b",
  "}": "\\x7d",
  "%": "\\x25",
  "#": "\\x23",
};

const OPEN = new Set(["OpenParen", "OpenSquareBracket", "OpenCurlyBracket"]);
const CLOSE = new Set(["CloseParen", "CloseSquareBracket", "CloseCurlyBracket"]);
/** Names after a test that are not its argument (jinja2 excludes else, or, and). */
const NOT_ARGUMENTS = new Set(["else", "or", "and", "if", "is", "not", "in"]);

/** The index just past the bracket group opening at `i`. */
function pastGroup(tokens: readonly Token[], i: number): number {
  let depth = 0;
  for (let j = i; j < tokens.length; j++) {
    if (OPEN.has(tokens[j].type)) depth++;
    else if (CLOSE.has(tokens[j].type) && --depth === 0) return j + 1;
  }
  return tokens.length;
}

/** The element the parser is given to make `(x,)` a tuple; the interpreter leaves it out. */
export const ONE_TUPLE_MARK = "__woolly_one_tuple__";

const KEYWORDS = new Set(["in", "and", "or", "not", "if", "else", "is"]);

/**
 * A trailing comma before `)`: dropped in a call (`f(a,)`) and in a tuple of several (`(a, b,)`);
 * in `(x,)`, a one-item tuple, it becomes `(x, <mark>)` so that the parser makes a tuple.
 */
export function fixTrailingCommas(tokens: readonly Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!(t.type === "Comma" && tokens[i + 1]?.type === "CloseParen")) {
      out.push(t);
      continue;
    }
    // Find the group's opening parenthesis and count its own commas.
    let depth = 0;
    let commas = 0;
    let open = -1;
    for (let j = out.length - 1; j >= 0; j--) {
      const u = out[j];
      if (CLOSE.has(u.type)) depth++;
      else if (OPEN.has(u.type)) {
        if (depth === 0) {
          open = j;
          break;
        }
        depth--;
      } else if (depth === 0 && u.type === "Comma") commas++;
    }
    const before = out[open - 1];
    const isCall =
      before !== undefined &&
      ((before.type === "Identifier" && !KEYWORDS.has(before.value)) || before.type === "CloseParen" || before.type === "CloseSquareBracket");
    if (open >= 0 && out[open].type === "OpenParen" && !isCall && commas === 0) {
      out.push(t, token("Identifier", ONE_TUPLE_MARK));
    }
    // Otherwise the comma is dropped.
  }
  return out;
}

/**
 * Float literals with an exponent (`1e20`, `2.5e-3`), which the lexer splits into a number, a name
 * and maybe a sign and a number, are joined again; the mantissa gets a `.` so the parser makes a float.
 */
export function joinExponents(tokens: readonly Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const [t, e, sign, digits] = [tokens[i], tokens[i + 1], tokens[i + 2], tokens[i + 3]];
    if (t.type === "NumericLiteral" && e?.type === "Identifier" && /^[eE]\d*$/.test(e.value)) {
      const mantissa = t.value.includes(".") ? t.value : t.value + ".0";
      if (e.value.length > 1) {
        out.push(token("NumericLiteral", `${mantissa}${e.value}`));
        i += 1;
        continue;
      }
      if (sign?.type === "AdditiveBinaryOperator" && (sign.value === "+" || sign.value === "-") && digits?.type === "NumericLiteral" && /^\d+$/.test(digits.value)) {
        out.push(token("NumericLiteral", `${mantissa}e${sign.value}${digits.value}`));
        i += 3;
        continue;
      }
    }
    out.push(t);
  }
  return out;
}

/** The index just past a single test argument written without parentheses (`is sameas foo.bar[0]`). */
function pastArgument(tokens: readonly Token[], i: number): number {
  const t = tokens[i];
  let j: number;
  if (t.type === "OpenSquareBracket" || t.type === "OpenCurlyBracket") j = pastGroup(tokens, i);
  else if (t.type === "NumericLiteral" || t.type === "StringLiteral" || (t.type === "Identifier" && !NOT_ARGUMENTS.has(t.value))) j = i + 1;
  else return i;
  // Postfix: .name, [index], (call)
  for (;;) {
    const n = tokens[j];
    if (n?.type === "Dot" && tokens[j + 1]?.type === "Identifier") j += 2;
    else if (n?.type === "OpenSquareBracket" || n?.type === "OpenParen") j = pastGroup(tokens, j);
    else return j;
  }
}

/**
 * Tests with arguments — `x is divisibleby(3)`, `x is sameas false`, `x is not in list` — which the
 * library cannot parse, become calls of a filter that runs the test (a test and a filter bind the
 * same operand, so the meaning is kept).
 */
export function rewriteTestArguments(tokens: readonly Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!(t.type === "Identifier" && t.value === "is")) {
      out.push(t);
      continue;
    }
    const negate = tokens[i + 1]?.type === "Identifier" && tokens[i + 1].value === "not";
    const nameAt = i + (negate ? 2 : 1);
    const name = tokens[nameAt];
    const next = tokens[nameAt + 1];
    if (name?.type !== "Identifier" || next === undefined) {
      out.push(t);
      continue;
    }
    const filter = [token("Pipe", "|"), token("Identifier", negate ? NEGATED_TEST_FILTER : TEST_FILTER), token("OpenParen", "("), token("StringLiteral", name.value)];
    if (next.type === "OpenParen") {
      // is name(a, b) → |test('name', a, b)
      const end = pastGroup(tokens, nameAt + 1);
      const inner = tokens.slice(nameAt + 2, end - 1);
      out.push(...filter, ...(inner.length > 0 ? [token("Comma", ","), ...inner] : []), token("CloseParen", ")"));
      i = end - 1;
      continue;
    }
    const end = pastArgument(tokens, nameAt + 1);
    if (end === nameAt + 1) {
      out.push(t); // a test without arguments: the library parses it
      continue;
    }
    out.push(...filter, token("Comma", ","), ...tokens.slice(nameAt + 1, end), token("CloseParen", ")"));
    i = end - 1;
  }
  return out;
}
