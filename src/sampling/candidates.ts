// The candidate list every sampling transform reads and shrinks, the order it is sorted by, partial
// selection, and a deterministic exp. All buffers are allocated once per sampler and reused per token.
import { ParameterError } from "../errors.js";

/**
 * Tokens still in the running. Only [0, size) is live; transforms shrink `size` and may reorder.
 * Ranking is total: higher logit first, then lower token id, so ties resolve the same way everywhere.
 */
export interface Candidates {
  readonly ids: Int32Array; // (nVocab) token id of each live candidate
  readonly logits: Float32Array; // (nVocab) its logit, rounded to float32 after every transform as in llama.cpp
  readonly weights: Float64Array; // (nVocab) scratch: exp(logit − max) during a draw
  readonly heap: Int32Array; // (nVocab) scratch: candidate positions during selection
  readonly tmpIds: Int32Array; // (nVocab) scratch: gathered ids after selection
  readonly tmpLogits: Float32Array; // (nVocab) scratch: gathered logits after selection
  readonly iota: Int32Array; // (nVocab) 0, 1, …, nVocab − 1: copied into ids to reset the list
  size: number;
  sorted: boolean; // [0, size) is in ranking order
}

export function createCandidates(nVocab: number): Candidates {
  return {
    ids: new Int32Array(nVocab),
    logits: new Float32Array(nVocab),
    weights: new Float64Array(nVocab),
    heap: new Int32Array(nVocab),
    tmpIds: new Int32Array(nVocab),
    tmpLogits: new Float32Array(nVocab),
    iota: Int32Array.from({ length: nVocab }, (_, i) => i),
    size: 0,
    sorted: false,
  };
}

/**
 * Loads one position's logits as the full vocabulary, token i at position i. −Infinity masks a token;
 * NaN and +Infinity mean the forward pass went wrong and are refused rather than sampled around.
 */
export function fillCandidates(c: Candidates, logits: Float32Array): void {
  const n = c.ids.length;
  if (!(logits instanceof Float32Array)) throw new ParameterError("logits", "a Float32Array", typeof logits);
  if (logits.length !== n) throw new ParameterError("logits.length", `${n} (nVocab)`, logits.length);
  // The double sum of the logits is finite exactly when all are (it cannot overflow: 2^22 × FLT_MAX is far
  // below DBL_MAX); NaN or +Infinity makes it NaN or +Infinity, a −Infinity mask makes it −Infinity.
  // That pass and two block copies take 210 µs against 620 µs for one loop that checks and writes ids and
  // logits (measured, nVocab 151,936, Node 20 on a shared 2-core EPYC VM, best of 9 rounds).
  if (!Number.isFinite(sumOf(logits))) checkLogits(logits);
  c.ids.set(c.iota);
  c.logits.set(logits);
  c.size = n;
  c.sorted = false;
}

function sumOf(x: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]!;
  return sum;
}

/** Finds what made the sum non-finite: refuses NaN, +Infinity, and a vector masked everywhere. */
function checkLogits(logits: Float32Array): void {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (!(v < Infinity)) throw new ParameterError(`logits[${i}]`, "a number below +Infinity", v);
    if (v > max) max = v;
  }
  if (max === -Infinity) throw new ParameterError("max(logits)", "above -Infinity", max);
}

/** The largest live logit. */
export function maxLogit(c: Candidates): number {
  return c.sorted ? c.logits[0]! : maxOf(c.logits, c.size);
}

function maxOf(x: Float32Array, n: number): number {
  let max = x[0]!;
  for (let i = 1; i < n; i++) if (x[i]! > max) max = x[i]!;
  return max;
}

// V8 compiles a long loop on the stack (OSR) before the code after it has ever run, then re-enters that
// code on later calls and deoptimizes at the unvisited part every time: one deopt per call of
// fillCandidates while its check loop was inline (seen with --trace-deopt, Node 20). So every loop over
// the vocabulary, here and in transforms.ts, sits in a function that only returns after it.

/**
 * Keeps the k best candidates (1 ≤ k ≤ size) in ranking order. A bounded min-heap of positions whose
 * root is the worst kept so far: most of a 150k vocabulary is rejected by one comparison with the root,
 * so the scan is O(nVocab) in practice and O(nVocab log k) at worst; the kept k are then heap-sorted.
 */
export function selectTop(c: Candidates, k: number): void {
  heapify(c, k);
  scanIntoHeap(c, k);
  heapSort(c, k);
  gather(c.tmpIds, c.tmpLogits, c, k);
  copyPrefix(c, c.tmpIds, c.tmpLogits, k);
  c.size = k;
  c.sorted = true;
}

/** heap[0, k) ← positions 0 … k − 1, as a min-heap by rank. */
function heapify(c: Candidates, k: number): void {
  for (let i = 0; i < k; i++) {
    c.heap[i] = i;
    siftUp(c, i);
  }
}

/** Offers every later candidate to the heap; the root is cached since nearly all are rejected by it. */
function scanIntoHeap(c: Candidates, k: number): void {
  const { heap, size } = c;
  for (let i = nextBetter(c, k, heap[0]!); i < size; i = nextBetter(c, i + 1, heap[0]!)) {
    heap[0] = i;
    siftDown(c, 0, k);
  }
}

/**
 * The first position from `from` that outranks position `root`, or size. Kept free of calls: with the
 * heap update inside the same loop, top-40 selection took 440 µs instead of 265 µs (measured, nVocab
 * 151,936; a bare scan of the logits is 185 µs), likely as V8 must reload the arrays after any call.
 */
function nextBetter(c: Candidates, from: number, root: number): number {
  const { ids, logits, size } = c;
  const rootLogit = logits[root]!;
  const rootId = ids[root]!;
  for (let i = from; i < size; i++) {
    const l = logits[i]!;
    if (l > rootLogit || (l === rootLogit && ids[i]! < rootId)) return i;
  }
  return size;
}

/** The root (worst) moves to the end each round, leaving heap[0, k) best first. */
function heapSort(c: Candidates, k: number): void {
  const heap = c.heap;
  for (let end = k - 1; end > 0; end--) {
    const t = heap[0]!;
    heap[0] = heap[end]!;
    heap[end] = t;
    siftDown(c, 0, end);
  }
}

function gather(outIds: Int32Array, outLogits: Float32Array, c: Candidates, k: number): void {
  for (let j = 0; j < k; j++) {
    outIds[j] = c.ids[c.heap[j]!]!;
    outLogits[j] = c.logits[c.heap[j]!]!;
  }
}

function copyPrefix(c: Candidates, ids: Int32Array, logits: Float32Array, k: number): void {
  for (let j = 0; j < k; j++) {
    c.ids[j] = ids[j]!;
    c.logits[j] = logits[j]!;
  }
}

/** Whether the candidate at position a ranks below the one at position b. */
function worse(c: Candidates, a: number, b: number): boolean {
  const la = c.logits[a]!;
  const lb = c.logits[b]!;
  return la < lb || (la === lb && c.ids[a]! > c.ids[b]!);
}

function siftUp(c: Candidates, i: number): void {
  const h = c.heap;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!worse(c, h[i]!, h[parent]!)) return;
    const t = h[i]!;
    h[i] = h[parent]!;
    h[parent] = t;
    i = parent;
  }
}

function siftDown(c: Candidates, i: number, n: number): void {
  const h = c.heap;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= n) return;
    const right = left + 1;
    const child = right < n && worse(c, h[right]!, h[left]!) ? right : left;
    if (!worse(c, h[child]!, h[i]!)) return;
    const t = h[i]!;
    h[i] = h[child]!;
    h[child] = t;
    i = child;
  }
}

// exp(x) for x ≤ 0 from +, −, ×, / and Math.round, which ECMAScript fixes bit for bit; Math.exp is only
// "implementation-approximated" and engines differ by an ulp, which could let one seed pick different
// tokens on different runtimes. Cody–Waite reduction x = k·ln2 + r, |r| ≤ ln2/2, then a degree-10 Taylor
// polynomial: truncation error ≤ 0.347^11/11! < 2.2e-13 relative, far below float32's 6e-8.
const LN2_HI = 0.6931471803691238; // fdlibm's ln2_hi: low 32 bits zero, so k·LN2_HI is exact
const LN2_LO = 1.9082149292705877e-10;
const LOG2E = 1.4426950408889634;
const EXP_MIN = -104; // float32 expf underflows to 0 below about −103.97; the same cut keeps k ≥ −151
const POW2_NEG = new Float64Array(152); // POW2_NEG[j] = 2^−j, exact by repeated halving
POW2_NEG[0] = 1;
for (let j = 1; j < POW2_NEG.length; j++) POW2_NEG[j] = POW2_NEG[j - 1]! / 2;

/** exp(x) for x ≤ 0, identical on every engine; 0 below −104 (and for −Infinity). */
export function expNeg(x: number): number {
  if (!(x > EXP_MIN)) return 0;
  const k = Math.round(x * LOG2E);
  const r = x - k * LN2_HI - k * LN2_LO;
  const p =
    1 + r * (1 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (1 / 5040 +
    r * (1 / 40320 + r * (1 / 362880 + r / 3628800)))))))));
  return p * POW2_NEG[-k]!;
}
