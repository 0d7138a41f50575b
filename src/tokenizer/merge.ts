// The pairwise merge loop shared by SPM and BPE (llama.cpp's llm_tokenizer_spm_session and
// llm_tokenizer_bpe_session): start from single characters, repeatedly merge the best adjacent pair,
// until no adjacent pair may merge.
//
// "Best" is the highest priority (SPM: the merged token's score; BPE: minus the merge rank), ties
// going to the leftmost pair, exactly as llama.cpp's priority-queue comparators order them. Entries
// go stale when a neighbour merges; like llama.cpp, a popped entry is skipped unless both symbols
// are alive and their lengths still add up to the length it was pushed with.
//
// Symbols are UTF-16 ranges of `word` kept in a doubly linked list:
//   start[i], len[i]   the symbol's range (len 0 once merged into its left neighbour)
//   prev[i], next[i]   neighbours (-1 at the ends)

/**
 * Priority of merging word[start, start+leftLen) with the following rightLen units, or undefined
 * if the pair may not merge. Higher merges first.
 */
export type PairPriority = (word: string, start: number, leftLen: number, rightLen: number) => number | undefined;

/** A binary max-heap of pending merges ordered by (priority desc, left asc). */
class MergeQueue {
  private prio: number[] = [];
  private left: number[] = [];
  private size: number[] = [];

  get length(): number {
    return this.prio.length;
  }

  /** a outranks b */
  private before(a: number, b: number): boolean {
    return this.prio[a] > this.prio[b] || (this.prio[a] === this.prio[b] && this.left[a] < this.left[b]);
  }

  private swap(a: number, b: number): void {
    const { prio, left, size } = this;
    [prio[a], prio[b]] = [prio[b], prio[a]];
    [left[a], left[b]] = [left[b], left[a]];
    [size[a], size[b]] = [size[b], size[a]];
  }

  push(priority: number, left: number, size: number): void {
    let i = this.prio.length;
    this.prio.push(priority);
    this.left.push(left);
    this.size.push(size);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top entry, returning [left, size]. */
  pop(): [number, number] {
    const top: [number, number] = [this.left[0], this.size[0]];
    const last = this.prio.length - 1;
    this.swap(0, last);
    this.prio.pop();
    this.left.pop();
    this.size.pop();
    const n = this.prio.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && this.before(l, best)) best = l;
      if (r < n && this.before(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }
}

/**
 * Merges the symbols of `word`, initially split at `units` (UTF-16 lengths of the first symbols, summing
 * to word.length). Returns the final symbols as [start, length] pairs, in order.
 */
export function mergeSymbols(word: string, units: readonly number[], priority: PairPriority): [number, number][] {
  const n = units.length;
  const start = new Int32Array(n);
  const len = new Int32Array(n);
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  let off = 0;
  for (let i = 0; i < n; i++) {
    start[i] = off;
    len[i] = units[i];
    off += units[i];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }

  const queue = new MergeQueue();
  const tryAdd = (l: number, r: number): void => {
    if (l === -1 || r === -1) return;
    const p = priority(word, start[l], len[l], len[r]);
    if (p !== undefined) queue.push(p, l, len[l] + len[r]);
  };
  for (let i = 1; i < n; i++) tryAdd(i - 1, i);

  while (queue.length > 0) {
    const [l, size] = queue.pop();
    const r = next[l];
    if (len[l] === 0 || r === -1 || len[r] === 0 || len[l] + len[r] !== size) continue;
    len[l] += len[r];
    len[r] = 0;
    next[l] = next[r];
    if (next[r] !== -1) prev[next[r]] = l;
    tryAdd(prev[l], l);
    tryAdd(l, next[l]);
  }

  const out: [number, number][] = [];
  for (let i = n > 0 ? 0 : -1; i !== -1; i = next[i]) out.push([start[i], len[i]]);
  return out;
}
