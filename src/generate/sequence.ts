// The state of the one sequence a model runs: which token ids the KV cache holds, at positions
// 0..length-1. generate() asks it how much of a new prompt is already computed and cuts it back to
// that, so a follow-up prompt (the next chat turn) only computes what is new.
//
// The two questions — how many positions can be reused, and cutting back to n positions — are
// methods so that state beyond the KV cache can follow them: an architecture with recurrent state
// (lfm2's convolution state) can only resume where it saved that state, and a saved session can
// restore it. Such a subclass overrides reusable() and truncate().
export class SequenceState {
  /** Token ids whose keys and values are in the KV cache, at positions 0..length-1. */
  private readonly ids: number[] = [];

  /** Positions computed (the next token goes at this position). */
  get length(): number {
    return this.ids.length;
  }

  /** The cached token ids, position by position. */
  get tokens(): readonly number[] {
    return this.ids;
  }

  /**
   * How many cached positions a prompt `ids` can reuse: the common prefix of token ids, at most
   * `limit` (the caller keeps the prompt's last token to compute, for its logits).
   */
  reusable(ids: readonly number[], limit: number): number {
    const cached = this.ids;
    let n = 0;
    while (n < cached.length && n < limit && n < ids.length && cached[n] === ids[n]) n++;
    return n;
  }

  /** Forget every position from `n` on (n ≥ length: nothing changes). */
  truncate(n: number): void {
    if (n < this.ids.length) this.ids.length = n;
  }

  /** Record that `ids` were computed at the next positions. */
  append(ids: readonly number[]): void {
    for (let i = 0; i < ids.length; i++) this.ids.push(ids[i]);
  }

  /** Record one computed token (decode: no allocation beyond the array's own growth). */
  push(id: number): void {
    this.ids.push(id);
  }
}
