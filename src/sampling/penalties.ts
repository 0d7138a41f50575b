// Repetition penalties: the window of recent tokens with a count per token id, and the transform that
// lowers the logit of every token the window holds. Semantics follow llama.cpp's penalties sampler.
import type { Candidates } from "./candidates.js";

/** The last `lastN` accepted tokens as a ring buffer, with how often each token id occurs among them. */
export class PenaltyWindow {
  readonly counts: Int32Array; // (nVocab) occurrences of each token id in the window
  readonly unique: Int32Array; // (lastN) scratch: the distinct tokens, written by distinct()
  private readonly ring: Int32Array; // (lastN) the tokens themselves, oldest at `head` once full
  private head = 0;
  private filled = 0;

  constructor(nVocab: number, lastN: number) {
    this.counts = new Int32Array(nVocab);
    this.ring = new Int32Array(lastN);
    this.unique = new Int32Array(lastN);
  }

  /** Number of tokens in the window (at most lastN). */
  get size(): number {
    return this.filled;
  }

  /** Adds a token, evicting the oldest when full; a window of length 0 records nothing. */
  push(token: number): void {
    const n = this.ring.length;
    if (n === 0) return;
    if (this.filled === n) this.counts[this.ring[this.head]!]!--;
    else this.filled++;
    this.ring[this.head] = token;
    this.counts[token]!++;
    this.head = this.head + 1 === n ? 0 : this.head + 1;
  }

  /** Writes each distinct token of the window once into `unique`; returns how many. */
  distinct(): number {
    const { counts, ring, unique } = this;
    let n = 0;
    // A token's count is negated while it is listed, which marks it without a separate table.
    for (let i = 0; i < this.filled; i++) {
      const t = ring[i]!;
      if (counts[t]! < 0) continue;
      counts[t] = -counts[t]!;
      unique[n++] = t;
    }
    for (let j = 0; j < n; j++) counts[unique[j]!] = -counts[unique[j]!]!;
    return n;
  }

  clear(): void {
    // While filling, the ring is written from slot 0 up, so [0, filled) holds every live token.
    for (let i = 0; i < this.filled; i++) this.counts[this.ring[i]!] = 0;
    this.head = 0;
    this.filled = 0;
  }
}

/** Penalty strengths, already rounded to float32 so the arithmetic is llama.cpp's float arithmetic. */
export interface PenaltyParams {
  readonly repeat: number; // divide positive logits, multiply non-positive ones; 1 = off
  readonly frequency: number; // subtract count × frequency (OpenAI)
  readonly presence: number; // subtract presence once if count > 0 (OpenAI)
}

/** Whether the penalties would change any logit. */
export function penaltiesActive(p: PenaltyParams, window: PenaltyWindow): boolean {
  return window.size > 0 && (p.repeat !== 1 || p.frequency !== 0 || p.presence !== 0);
}

/**
 * For each candidate seen n > 0 times in the window: logit ← logit / repeat if positive, else
 * logit × repeat; then logit ← logit − (n·frequency + presence). Each step rounds to float32.
 * Right after fillCandidates each token sits at the position equal to its id, so only the window's
 * tokens are visited, not the vocabulary: under 5 µs against 310 µs for the loop over all candidates
 * (measured, nVocab 151,936, 64 tokens in the window, shared 2-core EPYC VM).
 */
export function penalize(c: Candidates, window: PenaltyWindow, p: PenaltyParams): void {
  c.sorted = false;
  const n = window.distinct();
  const { unique, counts } = window;
  if (!atOwnPositions(c, unique, n)) return penalizeAll(c, counts, p);
  for (let j = 0; j < n; j++) penalizeAt(c, unique[j]!, counts[unique[j]!]!, p);
}

/** Whether each of tokens[0, n) is live at the position equal to its id. */
function atOwnPositions(c: Candidates, tokens: Int32Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const t = tokens[j]!;
    if (!(t < c.size && c.ids[t] === t)) return false;
  }
  return true;
}

function penalizeAll(c: Candidates, counts: Int32Array, p: PenaltyParams): void {
  for (let i = 0; i < c.size; i++) {
    const n = counts[c.ids[i]!]!;
    if (n > 0) penalizeAt(c, i, n, p);
  }
}

function penalizeAt(c: Candidates, i: number, n: number, p: PenaltyParams): void {
  const l = c.logits[i]!;
  const scaled = Math.fround(l <= 0 ? l * p.repeat : l / p.repeat);
  c.logits[i] = scaled - Math.fround(Math.fround(n * p.frequency) + p.presence);
}
