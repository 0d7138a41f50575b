// The server's request queue (one model, one generation at a time, in arrival order) and the
// counters /metrics reports.
import type { GenerationResult } from "../generate/options.js";

/**
 * FIFO turns on the model. The Model serializes calls itself; this queue exists so the server knows
 * how many requests wait, and so a client that leaves while waiting gives up its turn at once.
 */
export class RequestQueue {
  private tail: Promise<void> = Promise.resolve();
  /** Requests waiting for their turn. */
  waiting = 0;
  /** Requests holding the model (0 or 1). */
  active = 0;

  /** Resolves with a release function when it is this request's turn, or undefined if `signal` fired first. */
  async acquire(signal: AbortSignal): Promise<(() => void) | undefined> {
    let release!: () => void;
    const previous = this.tail;
    const mine = new Promise<void>((r) => (release = r));
    this.tail = previous.then(() => mine);
    this.waiting++;
    let counted = true;
    const leave = (): void => {
      if (counted) this.waiting--;
      counted = false;
    };
    signal.addEventListener("abort", leave, { once: true });
    await previous;
    signal.removeEventListener("abort", leave);
    leave();
    if (signal.aborted) {
      release();
      return undefined;
    }
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      release();
    };
  }
}

/** Prefill/decode speed: the last request's and the token-weighted average over all requests. */
class Speed {
  private tokens = 0;
  private ms = 0;
  last = 0;

  add(tokens: number, ms: number): void {
    if (tokens <= 0 || ms <= 0) return;
    this.tokens += tokens;
    this.ms += ms;
    this.last = tokens / (ms / 1000);
  }

  get average(): number {
    return this.ms > 0 ? this.tokens / (this.ms / 1000) : 0;
  }
}

export interface MetricsSnapshot {
  readonly requests_served: number;
  readonly requests_failed: number;
  readonly requests_aborted: number;
  readonly prompt_tokens_total: number;
  readonly prompt_tokens_cached_total: number;
  readonly tokens_generated_total: number;
  readonly prefill_tokens_per_second: { readonly last: number; readonly avg: number };
  readonly decode_tokens_per_second: { readonly last: number; readonly avg: number };
  readonly queue_depth: number;
  readonly processing: number;
  readonly uptime_seconds: number;
}

export class Metrics {
  private readonly started = performance.now();
  private served = 0;
  private failed = 0;
  private aborted = 0;
  private promptTokens = 0;
  private cachedTokens = 0;
  private generated = 0;
  private readonly prefill = new Speed();
  private readonly decode = new Speed();

  constructor(private readonly queue: RequestQueue) {}

  /** A generation that ran to its end (or was cut short by its client, when `aborted`). */
  record(r: GenerationResult): void {
    if (r.finishReason === "aborted") this.aborted++;
    else this.served++;
    this.promptTokens += r.promptTokens;
    this.cachedTokens += r.cachedTokens;
    this.generated += r.tokens.length;
    this.prefill.add(r.timings.prefillTokens, r.timings.prefillMs);
    this.decode.add(r.timings.decodeTokens, r.timings.decodeMs);
  }

  /** A request answered with an error status. */
  fail(): void {
    this.failed++;
  }

  /** A request whose client left before it got its turn. */
  abandon(): void {
    this.aborted++;
  }

  snapshot(): MetricsSnapshot {
    const round = (x: number): number => Math.round(x * 100) / 100;
    return {
      requests_served: this.served,
      requests_failed: this.failed,
      requests_aborted: this.aborted,
      prompt_tokens_total: this.promptTokens,
      prompt_tokens_cached_total: this.cachedTokens,
      tokens_generated_total: this.generated,
      prefill_tokens_per_second: { last: round(this.prefill.last), avg: round(this.prefill.average) },
      decode_tokens_per_second: { last: round(this.decode.last), avg: round(this.decode.average) },
      queue_depth: this.queue.waiting,
      processing: this.queue.active,
      uptime_seconds: Math.round((performance.now() - this.started) / 1000),
    };
  }
}
