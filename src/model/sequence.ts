// The sequence state of a transformer: the cached token ids (SequenceState) limited by what the forward
// pass's own state can resume from. A sliding-window cache has dropped positions before its base, and
// lfm2's convolution state exists only for the last computed position (KvCache.reusable says which).
import { SequenceState } from "../generate/sequence.js";
import type { Transformer } from "./forward.js";

export class TransformerSequence extends SequenceState {
  constructor(private readonly net: Transformer) {
    super();
  }

  override reusable(ids: readonly number[], limit: number): number {
    return this.net.reusable(super.reusable(ids, limit), this.length);
  }
}
