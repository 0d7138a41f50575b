// The compiled form of a grammar, as llama.cpp's llama_grammar_element arrays: each rule is a run of
// (type, value) elements, alternates separated by ALT and the rule closed by END. All rules live in
// one flat array so a grammar position is a single integer.

/** End of a rule. */
export const END = 0;
/** Start of another alternate of the rule. */
export const ALT = 1;
/** Reference to rule `value`. */
export const RULE_REF = 2;
/** A character (code point `value`), the first of a set. */
export const CHAR = 3;
/** A negated set: matches when none of the set's members match. */
export const CHAR_NOT = 4;
/** Makes the preceding CHAR / CHAR_ALT the inclusive range [previous, value]. */
export const CHAR_RNG_UPPER = 5;
/** Adds another member (`value`, or a range with a following CHAR_RNG_UPPER) to the set. */
export const CHAR_ALT = 6;
/** Any character (`.`). */
export const CHAR_ANY = 7;
/** The token with id `value` (`<[id]>`), matched by id rather than by text. */
export const TOKEN = 8;
/** Any one token except id `value` (`!<[id]>`). */
export const TOKEN_NOT = 9;

/** A rule while it is being built: flat (type, value) pairs. */
export type RuleBody = number[];

/** A parsed, checked grammar in flat arrays. */
export interface CompiledRules {
  /** Element types, all rules concatenated. */
  readonly types: Uint8Array;
  /** Element values (code point, rule id or token id). */
  readonly values: Int32Array;
  /** rule id → index of its first element. */
  readonly ruleStart: Int32Array;
  /** rule id → name (generated rules are named like llama.cpp's: "base_N"). */
  readonly names: readonly string[];
  /** The start rule's id. */
  readonly root: number;
}

/** Whether the element at `pos` ends an alternate. */
export function isEndOfSequence(types: Uint8Array, pos: number): boolean {
  const t = types[pos];
  return t === END || t === ALT;
}

/** Whether `t` starts a character set (a position a stack can rest on to match characters). */
export function isCharStart(t: number): boolean {
  return t === CHAR || t === CHAR_NOT || t === CHAR_ANY;
}
