// The grammar engine's typed errors: GrammarError for GBNF text and for tokens a constraint refuses,
// SchemaError for JSON schemas the compiler cannot (or will not) turn into a grammar.

import { WoollyError } from "../errors.js";

/** What can be wrong with a grammar, or with a token given to a constraint. */
export type GrammarErrorKind =
  /** The text does not follow GBNF syntax; `expected` says what the parser wanted at `offset`. */
  | "syntax"
  /** A rule is referenced but never defined (`rule` names it; the position is its first use). */
  | "undefined_rule"
  /** The start rule (default "root") is not defined. */
  | "missing_root"
  /** A rule can reach itself without consuming input; llama.cpp refuses these grammars too. */
  | "left_recursion"
  /** A repetition expands past llama.cpp's sanity limit (2000 copies). */
  | "too_many_repetitions"
  /** A `<name>` token cannot be resolved to exactly one token id (or no resolver was given). */
  | "unknown_token"
  /** `accept` was given a token the grammar does not allow in its current state. */
  | "token_rejected";

/** Where in the grammar text a problem was found (all -1 when it is not about a position). */
export interface GrammarPosition {
  /** UTF-16 offset into the text. */
  readonly offset: number;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column, in UTF-16 units. */
  readonly column: number;
}

export class GrammarError extends WoollyError {
  declare readonly kind: GrammarErrorKind;
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  /** What the parser expected (syntax errors), e.g. "'::='" or "a closing ')'". */
  readonly expected: string | undefined;
  /** The rule at fault (undefined_rule, missing_root, left_recursion), if any. */
  readonly rule: string | undefined;
  constructor(
    kind: GrammarErrorKind,
    message: string,
    details: { position?: GrammarPosition; expected?: string; rule?: string } = {},
  ) {
    const p = details.position;
    super(kind, p ? `${message} (line ${p.line}, column ${p.column})` : message);
    this.offset = p?.offset ?? -1;
    this.line = p?.line ?? -1;
    this.column = p?.column ?? -1;
    this.expected = details.expected;
    this.rule = details.rule;
  }
}

/** The line and column of `offset` in `text`. */
export function positionOf(text: string, offset: number): GrammarPosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset, line, column: offset - lineStart + 1 };
}

/** What can stop a JSON schema from compiling. */
export type SchemaErrorKind =
  /** The schema is malformed (a keyword of the wrong type, an unresolvable $ref, a bad regex, …). */
  | "invalid_schema"
  /** The schema is valid but uses something the grammar cannot enforce (a format, a keyword, …). */
  | "unsupported_schema";

/** A schema that cannot become a grammar; `path` is the JSON pointer of the schema at fault ("#/properties/foo"). */
export class SchemaError extends WoollyError {
  declare readonly kind: SchemaErrorKind;
  readonly path: string;
  constructor(kind: SchemaErrorKind, path: string, message: string) {
    super(kind, `${path}: ${message}`);
    this.path = path;
  }
}
