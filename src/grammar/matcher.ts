// The pushdown matcher, as llama.cpp's (llama_grammar_advance_stack / _accept / _match_char): the
// state is a set of stacks of grammar positions; a character advances every stack whose top is a
// character set containing it, and each result is expanded until its top is a terminal again.
//
// Unlike llama.cpp, stacks and stack sets are interned: a stack is a node (top position, stack
// below) in a shared pool, a set is a sorted list of stack ids with an id of its own, and the
// transition (set, code point) → set is cached. Inside a JSON string, say, every character leads
// back to the same set, so after warm-up advancing costs one table lookup; that is what makes
// walking a 150k-token trie per generated token affordable.

import { PairTable } from "./pair-table.js";
import { charSetEnd, coverage, grow, matchChar } from "./charset.js";
import { CLASS_RANGES } from "./classes.js";
import { partialRange } from "./utf8.js";
import {
  CHAR,
  CHAR_ANY,
  CHAR_NOT,
  RULE_REF,
  TOKEN,
  TOKEN_NOT,
  isEndOfSequence,
  type CompiledRules,
} from "./rules.js";

/** The id of the set with no stacks: the grammar is dead. */
export const DEAD = 0;
/** The id of the empty stack: the grammar has matched its start rule completely. */
const EMPTY_STACK = 0;

const ASCII = 128;

export class Matcher {
  private readonly types: Uint8Array;
  private readonly values: Int32Array;
  private readonly ruleStart: Int32Array;
  private readonly nPos: number;

  // stack pool: stack id → top position and the stack below (id 0 is the empty stack)
  private top = new Int32Array(1024);
  private below = new Int32Array(1024);
  private nStacks = 1;
  private readonly stackIds = new Map<number, number>();

  // set pool: set id → members setMembers[setStart[id] .. setStart[id + 1])
  private setStart = new Int32Array(256);
  private setMembers = new Int32Array(1024);
  private nSets = 0;
  private readonly setIds = new Map<string, number>();
  /** set id → flags: 1 has the empty stack, 2 has a stack on a token element, 4 has a stack on a character set */
  private setFlags = new Uint8Array(256);
  /** set id → the classes (classes.ts) whose every code point leads back to the set; -1: not computed */
  private absorbed = new Int32Array(256).fill(-1);

  // transitions: ASCII in a dense table (-1 unknown), the rest and partial-character checks in maps
  private asciiNext = new Int32Array(256 * ASCII).fill(-1);
  private readonly wideNext = new PairTable();
  /** (set, packed partial UTF-8 state) → 1/0 */
  private readonly partialOk = new PairTable();
  /**
   * (set, which of its stacks match) → set: every code point with the same match pattern leads to
   * the same set, so a first-seen code point (there are tens of thousands of CJK ones in a vocabulary)
   * costs a few character-set tests rather than building a set.
   */
  private readonly bySignature = new PairTable();

  // scratch for building a set: stamps instead of clearing
  private seen = new Int32Array(1024);
  private inOut = new Int32Array(1024);
  private stamp = 0;
  private readonly todo: number[] = [];
  private readonly out: number[] = [];

  /** The set the grammar starts in. */
  readonly initial: number;

  constructor(rules: CompiledRules) {
    this.types = rules.types;
    this.values = rules.values;
    this.ruleStart = rules.ruleStart;
    this.nPos = rules.types.length + 1;
    this.setStart[0] = 0;
    this.setStart[1] = 0;
    this.nSets = 1; // DEAD
    this.setIds.set("", DEAD);
    this.begin();
    let p = this.ruleStart[rules.root];
    for (;;) {
      this.addClosure(isEndOfSequence(this.types, p) ? EMPTY_STACK : this.push(EMPTY_STACK, p));
      while (!isEndOfSequence(this.types, p)) p++;
      if (this.types[p] !== 1 /* ALT */) break;
      p++;
    }
    this.initial = this.end();
  }

  /** Number of interned stacks and sets (for tests and diagnostics). */
  get size(): { stacks: number; sets: number } {
    return { stacks: this.nStacks, sets: this.nSets };
  }

  /** Whether the set holds the empty stack (the start rule can end here). */
  canEnd(set: number): boolean {
    return (this.setFlags[set] & 1) !== 0;
  }

  /** Whether some stack in the set still expects input (a character or a token). */
  canContinue(set: number): boolean {
    return (this.setFlags[set] & 6) !== 0;
  }

  /** Whether some stack in the set rests on a token element (<[id]> or !<[id]>). */
  hasTokenElements(set: number): boolean {
    return (this.setFlags[set] & 2) !== 0;
  }

  /**
   * The classes (classes.ts bits) whose every code point leads from `set` back to `set`: for each
   * range of the class, every stack's character set must contain all of it or none of it (so all
   * its code points step alike), and one of them must step back to the set. Cached.
   */
  absorbedClasses(set: number): number {
    const known = this.absorbed[set];
    if (known !== -1) return known;
    const { types, values } = this;
    let mask = 0;
    for (let k = 0; k < CLASS_RANGES.length; k++) {
      let ok = true;
      for (const [lo, hi] of CLASS_RANGES[k]) {
        for (let i = this.setStart[set], e = this.setStart[set + 1]; i < e && ok; i++) {
          const s = this.setMembers[i];
          if (s === EMPTY_STACK) continue;
          const pos = this.top[s];
          const t = types[pos];
          if (t === CHAR || t === CHAR_NOT || t === CHAR_ANY) ok = coverage(types, values, pos, lo, hi) !== 1;
        }
        if (!ok || this.step(set, lo) !== set) {
          ok = false;
          break;
        }
      }
      if (ok) mask |= 1 << k;
    }
    this.absorbed[set] = mask;
    return mask;
  }

  /** The set after code point `cp`, DEAD if no stack accepts it. Cached. */
  step(set: number, cp: number): number {
    if (cp < ASCII) {
      const cached = this.asciiNext[set * ASCII + cp];
      if (cached >= 0) return cached;
    } else {
      const cached = this.wideNext.get(set, cp);
      if (cached >= 0) return cached;
    }
    const { types, values } = this;
    const start = this.setStart[set];
    const n = this.setStart[set + 1] - start;
    let signature = -1;
    if (n <= 30) {
      signature = 0;
      for (let i = 0; i < n; i++) {
        const s = this.setMembers[start + i];
        if (s === EMPTY_STACK) continue;
        const pos = this.top[s];
        const t = types[pos];
        if ((t === CHAR || t === CHAR_NOT || t === CHAR_ANY) && matchChar(types, values, pos, cp)) signature |= 1 << i;
      }
      const known = this.bySignature.get(set, signature);
      if (known >= 0) {
        if (cp < ASCII) this.asciiNext[set * ASCII + cp] = known;
        else this.wideNext.set(set, cp, known);
        return known;
      }
    }
    this.begin();
    for (let i = this.setStart[set], e = this.setStart[set + 1]; i < e; i++) {
      const s = this.setMembers[i];
      if (s === EMPTY_STACK) continue;
      const pos = this.top[s];
      const t = types[pos];
      if (t !== CHAR && t !== CHAR_NOT && t !== CHAR_ANY) continue;
      if (!matchChar(types, values, pos, cp)) continue;
      const after = charSetEnd(types, pos);
      const below = this.below[s];
      this.addClosure(isEndOfSequence(types, after) ? below : this.push(below, after));
    }
    const next = this.end();
    if (cp < ASCII) this.asciiNext[set * ASCII + cp] = next;
    else this.wideNext.set(set, cp, next);
    if (signature >= 0) this.bySignature.set(set, signature, next);
    return next;
  }

  /**
   * Whether some stack's character set contains a code point that the partial character (value so
   * far, `remaining` continuation bytes due) can still complete to: llama.cpp's
   * llama_grammar_match_partial_char over the set. Cached.
   */
  matchesPartial(set: number, value: number, remaining: number): boolean {
    const key = remaining * 0x400000 + value;
    const cached = this.partialOk.get(set, key);
    if (cached >= 0) return cached === 1;
    let ok = false;
    for (let i = this.setStart[set], e = this.setStart[set + 1]; i < e && !ok; i++) {
      const s = this.setMembers[i];
      if (s !== EMPTY_STACK) ok = this.stackMatchesPartial(this.top[s], value, remaining);
    }
    this.partialOk.set(set, key, ok ? 1 : 0);
    return ok;
  }

  /** The stacks of `set` that can still match the partial character (after a token ending mid-character). */
  keepPartial(set: number, value: number, remaining: number): number {
    this.begin();
    for (let i = this.setStart[set], e = this.setStart[set + 1]; i < e; i++) {
      const s = this.setMembers[i];
      if (s !== EMPTY_STACK && this.stackMatchesPartial(this.top[s], value, remaining)) this.addClosure(s);
    }
    return this.end();
  }

  /**
   * The stacks after token `id` is consumed by token elements (<[id]> matching it, !<[x]> with
   * x ≠ id), merged with `other` (the result of matching the token's text, or DEAD).
   */
  acceptTokenElements(set: number, id: number, other: number): number {
    this.begin();
    const { types, values } = this;
    for (let i = this.setStart[set], e = this.setStart[set + 1]; i < e; i++) {
      const s = this.setMembers[i];
      if (s === EMPTY_STACK) continue;
      const pos = this.top[s];
      const t = types[pos];
      if ((t === TOKEN && values[pos] === id) || (t === TOKEN_NOT && values[pos] !== id)) {
        const below = this.below[s];
        this.addClosure(isEndOfSequence(types, pos + 1) ? below : this.push(below, pos + 1));
      }
    }
    for (let i = this.setStart[other], e = this.setStart[other + 1]; i < e; i++) this.addClosure(this.setMembers[i]);
    return this.end();
  }

  /** The token elements the set's stacks rest on: pairs (type TOKEN or TOKEN_NOT, token id). */
  tokenElements(set: number): number[] {
    const out: number[] = [];
    for (let i = this.setStart[set], e = this.setStart[set + 1]; i < e; i++) {
      const s = this.setMembers[i];
      if (s === EMPTY_STACK) continue;
      const pos = this.top[s];
      const t = this.types[pos];
      if (t === TOKEN || t === TOKEN_NOT) out.push(t, this.values[pos]);
    }
    return out;
  }

  /**
   * Whether the character set at `pos` contains some code point the partial character can complete
   * to. Exact for negated sets too (llama.cpp refuses a negated set as soon as one member falls in
   * the range).
   */
  private stackMatchesPartial(pos: number, value: number, remaining: number): boolean {
    const { types, values } = this;
    const t = types[pos];
    if (t !== CHAR && t !== CHAR_NOT && t !== CHAR_ANY) return false;
    if (remaining <= 0) return false;
    const [low, high] = partialRange(value, remaining);
    if (low > high) return false;
    const c = coverage(types, values, pos, low, high);
    return t === CHAR_NOT ? c !== 2 : c !== 0;
  }

  private push(below: number, pos: number): number {
    const key = below * this.nPos + pos;
    const found = this.stackIds.get(key);
    if (found !== undefined) return found;
    if (this.nStacks === this.top.length) {
      const cap = this.top.length * 2;
      this.top = grow(this.top, cap);
      this.below = grow(this.below, cap);
      this.seen = grow(this.seen, cap);
      this.inOut = grow(this.inOut, cap);
    }
    const id = this.nStacks++;
    this.top[id] = pos;
    this.below[id] = below;
    this.stackIds.set(key, id);
    return id;
  }

  private begin(): void {
    this.stamp++;
    this.out.length = 0;
  }

  /** Adds the stacks `stack` expands to (tops on terminals, or empty), as llama_grammar_advance_stack. */
  private addClosure(stack: number): void {
    const { types, values, todo } = this;
    todo.push(stack);
    while (todo.length > 0) {
      const s = todo.pop() as number;
      if (this.seen[s] === this.stamp) continue;
      this.seen[s] = this.stamp;
      const pos = s === EMPTY_STACK ? -1 : this.top[s];
      if (pos < 0 || types[pos] !== RULE_REF) {
        if (this.inOut[s] !== this.stamp) {
          this.inOut[s] = this.stamp;
          this.out.push(s);
        }
        continue;
      }
      const below = this.below[s];
      const after = isEndOfSequence(types, pos + 1) ? below : this.push(below, pos + 1);
      let sub = this.ruleStart[values[pos]];
      for (;;) {
        todo.push(isEndOfSequence(types, sub) ? after : this.push(after, sub));
        while (!isEndOfSequence(types, sub)) sub++;
        if (types[sub] !== 1 /* ALT */) break;
        sub++;
      }
    }
  }

  /** Interns the set built since begin(). */
  private end(): number {
    const out = this.out;
    if (out.length === 0) return DEAD;
    out.sort((a, b) => a - b);
    const key = out.join(",");
    const found = this.setIds.get(key);
    if (found !== undefined) return found;
    const id = this.nSets++;
    if (id + 1 >= this.setStart.length) {
      const cap = this.setStart.length * 2;
      this.setStart = grow(this.setStart, cap);
      this.setFlags = grow(this.setFlags, cap);
      const absorbed = new Int32Array(cap).fill(-1);
      absorbed.set(this.absorbed);
      this.absorbed = absorbed;
      const next = new Int32Array(cap * ASCII).fill(-1);
      next.set(this.asciiNext);
      this.asciiNext = next;
    }
    let n = this.setStart[id];
    if (n + out.length > this.setMembers.length) this.setMembers = grow(this.setMembers, Math.max(this.setMembers.length * 2, n + out.length));
    let flags = 0;
    for (const s of out) {
      this.setMembers[n++] = s;
      if (s === EMPTY_STACK) flags |= 1;
      else {
        const t = this.types[this.top[s]];
        flags |= t === TOKEN || t === TOKEN_NOT ? 2 : 4;
      }
    }
    this.setStart[id + 1] = n;
    this.setFlags[id] = flags;
    this.setIds.set(key, id);
    return id;
  }
}

