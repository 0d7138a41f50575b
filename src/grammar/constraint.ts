// GrammarConstraint: a grammar's state during generation, and the vocabulary mask it implies.
// Called as `constraint.mask(logits)` before sampling and `constraint.accept(token)` after; generation
// ends when EOG is sampled, or when isComplete() and !canContinue().

import { GrammarError } from "./errors.js";
import type { Grammar } from "./grammar.js";
import { DEAD, Matcher } from "./matcher.js";
import { TOKEN } from "./rules.js";
import type { TokenTrie } from "./trie.js";
import { UTF8_START, utf8Remaining, utf8Step, utf8Value } from "./utf8.js";

const matchers = new WeakMap<Grammar, Matcher>();

function matcherFor(grammar: Grammar): Matcher {
  let m = matchers.get(grammar);
  if (!m) {
    m = new Matcher(grammar.rules);
    matchers.set(grammar, m);
  }
  return m;
}

export class GrammarConstraint {
  readonly grammar: Grammar;
  readonly vocab: TokenTrie;
  private readonly matcher: Matcher;
  /** the current stack set */
  private set: number;
  /** the UTF-8 decoder state carried over from the last token (see utf8.ts) */
  private utf8: number;
  /** an EOG token was accepted: nothing more is allowed */
  private ended = false;

  // reused per mask: allowed flags and the trie walk's per-depth states
  private readonly allowedBuf: Uint8Array;
  private readonly depthSet: Int32Array;
  private readonly depthUtf8: Int32Array;
  // the result of the last simulate()
  private nextSet = DEAD;
  private nextUtf8 = UTF8_START;

  /** A constraint at the grammar's start. Allocates the per-vocabulary buffers once. */
  constructor(grammar: Grammar, vocab: TokenTrie) {
    this.grammar = grammar;
    this.vocab = vocab;
    // The matcher's caches depend on the grammar only, so every constraint over the same Grammar
    // object (clones, and a server reusing a compiled grammar) shares one and starts warm.
    this.matcher = matcherFor(grammar);
    this.set = this.matcher.initial;
    this.utf8 = UTF8_START;
    this.allowedBuf = new Uint8Array(vocab.nVocab);
    this.depthSet = new Int32Array(vocab.maxDepth + 1);
    this.depthUtf8 = new Int32Array(vocab.maxDepth + 1);
  }

  /** Back to the grammar's start (the caches are kept). */
  reset(): void {
    this.set = this.matcher.initial;
    this.utf8 = UTF8_START;
    this.ended = false;
  }

  /** An independent copy of the current state (sharing the grammar's caches). */
  clone(): GrammarConstraint {
    const c = new GrammarConstraint(this.grammar, this.vocab);
    c.set = this.set;
    c.utf8 = this.utf8;
    c.ended = this.ended;
    return c;
  }

  /** Whether the text so far is a complete match of the grammar (EOG is allowed now). */
  isComplete(): boolean {
    return !this.ended && utf8Remaining(this.utf8) === 0 && this.matcher.canEnd(this.set);
  }

  /** Whether the grammar allows more text (some stack still expects a character or a token). */
  canContinue(): boolean {
    return !this.ended && this.matcher.canContinue(this.set);
  }

  /**
   * Sets every logit whose token the grammar does not allow now to -Infinity; EOG tokens are allowed
   * only when isComplete(). Logits past the vocabulary (padded output rows) are disallowed too.
   */
  mask(logits: Float32Array): void {
    const allowed = this.allowed();
    const n = Math.min(logits.length, allowed.length);
    for (let i = 0; i < n; i++) if (allowed[i] === 0) logits[i] = -Infinity;
    for (let i = n; i < logits.length; i++) logits[i] = -Infinity;
  }

  /**
   * token id → 1 if the grammar allows it now, else 0. The array is reused: valid until the next
   * call to allowed() or mask().
   */
  allowed(): Uint8Array {
    const out = this.allowedBuf;
    out.fill(0);
    if (this.ended) return out;
    const v = this.vocab;
    const m = this.matcher;
    if (this.isComplete()) for (let id = 0; id < v.nVocab; id++) if (v.eog[id]) out[id] = 1;
    if (!m.canContinue(this.set)) return out;

    // One preorder scan of the trie: each node's state derives from its parent's (one level up);
    // a subtree is skipped as soon as no stack can match its prefix.
    this.walk(out);

    // Token elements (<[id]>, !<[id]>) match whole tokens by id, from a character boundary.
    if (m.hasTokenElements(this.set) && utf8Remaining(this.utf8) === 0) {
      const els = m.tokenElements(this.set);
      for (let j = 0; j < els.length; j += 2) {
        const id = els[j + 1];
        if (els[j] === TOKEN) {
          if (id < v.nVocab && v.usable[id] && v.whole[id]) out[id] = 1;
        } else {
          for (let t = 0; t < v.nVocab; t++) if (t !== id && v.usable[t] && v.whole[t]) out[t] = 1;
        }
      }
    }
    return out;
  }

  /**
   * Marks the tokens the stacks allow, by a preorder scan of the trie. When the carried UTF-8 state
   * is at a character boundary (the common case) the trie's precomputed per-node decoder states and
   * classes apply: a node whose character's class leads back to the parent's set costs two array
   * reads, and a subtree whose classes all do is marked in one go (free text inside a string).
   */
  private walk(out: Uint8Array): void {
    const v = this.vocab;
    const m = this.matcher;
    const { byte, depth, subtreeEnd, tokenStart, order, subtreeClasses, nodeClass, nodeState } = v;
    const depthSet = this.depthSet;
    const depthUtf8 = this.depthUtf8;
    const fromBoundary = utf8Remaining(this.utf8) === 0;
    depthSet[0] = this.set;
    depthUtf8[0] = this.utf8;
    const nNodes = byte.length;
    let i = 1;
    while (i < nNodes) {
      const d = depth[i];
      const set = depthSet[d - 1];
      let next = DEAD;
      let st: number;
      if (fromBoundary) {
        st = nodeState[i];
        const own = nodeClass[i];
        if ((m.absorbedClasses(set) & own) === own) next = set;
      } else st = utf8Step(depthUtf8[d - 1], byte[i]);
      const rem = (st & 7) - 1;
      if (next === DEAD) {
        if (rem === 0) next = m.step(set, st >>> 4);
        else if (rem > 0 && m.matchesPartial(set, st >>> 4, rem)) next = set;
        if (next === DEAD) {
          i = subtreeEnd[i];
          continue;
        }
      }
      if (fromBoundary && rem === 0) {
        const below = subtreeClasses[i];
        if (below !== 0 && (m.absorbedClasses(next) & below) === below) {
          for (let k = tokenStart[i], e = tokenStart[subtreeEnd[i]]; k < e; k++) out[order[k]] = 1;
          i = subtreeEnd[i];
          continue;
        }
      }
      depthSet[d] = next;
      depthUtf8[d] = st;
      for (let k = tokenStart[i], e = tokenStart[i + 1]; k < e; k++) out[order[k]] = 1;
      i++;
    }
  }

  /** Whether the grammar allows token `id` now (checked on its own, without the trie). */
  allows(id: number): boolean {
    if (this.ended || !Number.isInteger(id) || id < 0 || id >= this.vocab.nVocab) return false;
    if (this.vocab.eog[id]) return this.isComplete();
    return this.simulate(id);
  }

  /** Advances past token `id`. Throws GrammarError "token_rejected" (state unchanged) if it is not allowed. */
  accept(id: number): void {
    if (!this.allows(id)) {
      const piece = id >= 0 && id < this.vocab.nVocab ? new TextDecoder().decode(this.vocab.piece(id)) : "";
      throw new GrammarError("token_rejected", `token ${id} (${JSON.stringify(piece)}) is not allowed by the grammar here`);
    }
    if (this.vocab.eog[id]) {
      this.ended = true;
      return;
    }
    this.set = this.nextSet;
    this.utf8 = this.nextUtf8;
  }

  /** Advances past text (for prefilled output or tests). Throws GrammarError "token_rejected" if the grammar refuses it. */
  acceptBytes(bytes: Uint8Array): void {
    if (this.ended) throw new GrammarError("token_rejected", "the grammar has already ended");
    const r = this.matchBytes(this.set, this.utf8, bytes);
    if (r === DEAD) throw new GrammarError("token_rejected", `${JSON.stringify(new TextDecoder().decode(bytes))} is not allowed by the grammar here`);
    this.set = r;
    this.utf8 = this.nextUtf8;
  }

  /** Computes the state after token `id` into nextSet/nextUtf8; false if it is not allowed. */
  private simulate(id: number): boolean {
    const v = this.vocab;
    if (!v.usable[id]) return false;
    const byText = this.matchBytes(this.set, this.utf8, v.piece(id));
    const textUtf8 = this.nextUtf8;
    let next = byText;
    if (this.matcher.hasTokenElements(this.set) && utf8Remaining(this.utf8) === 0 && v.whole[id]) {
      next = this.matcher.acceptTokenElements(this.set, id, byText);
      if (byText === DEAD) this.nextUtf8 = UTF8_START;
      else this.nextUtf8 = textUtf8;
    }
    this.nextSet = next;
    return next !== DEAD;
  }

  /** The set after `bytes` from (set, utf8), DEAD if refused; the decoder state goes to nextUtf8. */
  private matchBytes(set: number, utf8: number, bytes: Uint8Array): number {
    const m = this.matcher;
    let s = set;
    let st = utf8;
    for (let i = 0; i < bytes.length && s !== DEAD; i++) {
      st = utf8Step(st, bytes[i]);
      const rem = utf8Remaining(st);
      if (rem < 0) return DEAD;
      if (rem === 0) s = m.step(s, utf8Value(st));
    }
    const rem = utf8Remaining(st);
    if (s !== DEAD && rem > 0) {
      // ends mid-character: keep the stacks that can still complete it
      s = m.matchesPartial(s, utf8Value(st), rem) ? m.keepPartial(s, utf8Value(st), rem) : DEAD;
    }
    this.nextUtf8 = st;
    return s;
  }
}
