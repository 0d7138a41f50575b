// Log-probabilities of what the sampler chose, as OpenAI's `logprobs` report them: log-softmax of the
// logits the sampler saw — after the repetition penalties (and a grammar's mask), before top-k/top-p/
// min-p truncation and temperature — for the chosen token and the k most likely ones.
import type { Candidates } from "./candidates.js";

/** One alternative: a token and its log-probability. */
export interface TokenLogprob {
  readonly token: number;
  readonly logprob: number;
}

/** The chosen token's log-probability and the `top` most likely tokens (most likely first). */
export interface SampledLogprobs extends TokenLogprob {
  readonly top: readonly TokenLogprob[];
}

/** Most alternatives a position reports (OpenAI's limit). */
export const MAX_TOP_LOGPROBS = 20;

export class LogprobsRecorder {
  private readonly seen: Float32Array;
  private readonly topIds: Int32Array;
  private readonly topLogits: Float32Array;
  private logZ = 0;
  private count = 0;

  constructor(nVocab: number, private readonly k: number) {
    this.seen = new Float32Array(nVocab);
    this.topIds = new Int32Array(k);
    this.topLogits = new Float32Array(k);
  }

  /** Record the distribution: `c` holds every token at its own position (right after the penalties). */
  record(c: Candidates): void {
    const x = this.seen;
    x.set(c.logits.subarray(0, x.length));
    let max = -Infinity;
    for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
    let sum = 0;
    for (let i = 0; i < x.length; i++) sum += Math.exp(x[i]! - max);
    this.logZ = max + Math.log(sum);
    // The k largest, by insertion into a short sorted list: most logits fail the first comparison.
    const k = this.k;
    let n = 0;
    for (let i = 0; i < x.length && k > 0; i++) {
      const v = x[i]!;
      if (v === -Infinity || (n === k && v <= this.topLogits[k - 1]!)) continue;
      let j = n < k ? n++ : k - 1;
      while (j > 0 && this.topLogits[j - 1]! < v) {
        this.topLogits[j] = this.topLogits[j - 1]!;
        this.topIds[j] = this.topIds[j - 1]!;
        j--;
      }
      this.topLogits[j] = v;
      this.topIds[j] = i;
    }
    this.count = n;
  }

  /** The log-probabilities for the token that was drawn from the recorded distribution. */
  result(token: number): SampledLogprobs {
    const top: TokenLogprob[] = [];
    for (let i = 0; i < this.count; i++) top.push({ token: this.topIds[i]!, logprob: this.topLogits[i]! - this.logZ });
    return { token, logprob: this.seen[token]! - this.logZ, top };
  }
}
