// The counters /metrics reports, as JSON (the default) or in Prometheus's text format.
import type { GenerationResult } from "../generate/options.js";
import type { ServerErrorKind } from "./http.js";
import { renderPrometheus, type MetricFamily } from "./prometheus.js";
import type { RequestQueue } from "./queue.js";

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

/**
 * The status a request is counted under. 499 (nginx's "client closed request") for a client that
 * left before its answer ended: what it was sent, if anything, is not what it asked for.
 */
export const CLIENT_CLOSED = 499;

export interface MetricsSnapshot {
  readonly requests_served: number;
  readonly requests_failed: number;
  readonly requests_aborted: number;
  /** Answered requests by endpoint, then by status ("499": the client left first). */
  readonly requests: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Error answers by ServerError kind (queue_full, timeout, invalid_request, …). */
  readonly errors: Readonly<Partial<Record<ServerErrorKind, number>>>;
  readonly prompt_tokens_total: number;
  readonly prompt_tokens_cached_total: number;
  readonly tokens_generated_total: number;
  readonly prefill_tokens_per_second: { readonly last: number; readonly avg: number };
  readonly decode_tokens_per_second: { readonly last: number; readonly avg: number };
  readonly queue_depth: number;
  readonly queue_capacity: number;
  readonly queue_rejected: number;
  readonly processing: number;
  readonly uptime_seconds: number;
}

export class Metrics {
  private readonly started: number;
  private served = 0;
  private failed = 0;
  private aborted = 0;
  private promptTokens = 0;
  private cachedTokens = 0;
  private generated = 0;
  private readonly prefill = new Speed();
  private readonly decode = new Speed();
  /** endpoint → status → count, in first-seen order (stable output for scrapers and tests). */
  private readonly byEndpoint = new Map<string, Map<number, number>>();
  private readonly byKind = new Map<ServerErrorKind, number>();

  constructor(
    private readonly queue: RequestQueue,
    private readonly now: () => number,
  ) {
    this.started = now();
  }

  /** A generation that ran to its end (or was cut short by its client or the timeout, when `aborted`). */
  record(r: GenerationResult): void {
    if (r.finishReason === "aborted") this.aborted++;
    else this.served++;
    this.promptTokens += r.promptTokens;
    this.cachedTokens += r.cachedTokens;
    this.generated += r.tokens.length;
    this.prefill.add(r.timings.prefillTokens, r.timings.prefillMs);
    this.decode.add(r.timings.decodeTokens, r.timings.decodeMs);
  }

  /** A request answered with an error (a status, or an error event in a stream). */
  fail(kind: ServerErrorKind): void {
    this.failed++;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
  }

  /** A request whose client left before it got its turn. */
  abandon(): void {
    this.aborted++;
  }

  /** Every request once, when its handler ends: `endpoint` is a known route or "other" (so a scan of random paths cannot grow the label set). */
  response(endpoint: string, status: number): void {
    let statuses = this.byEndpoint.get(endpoint);
    if (!statuses) this.byEndpoint.set(endpoint, (statuses = new Map()));
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }

  snapshot(): MetricsSnapshot {
    const round = (x: number): number => Math.round(x * 100) / 100;
    const requests: Record<string, Record<string, number>> = {};
    for (const [endpoint, statuses] of this.byEndpoint) requests[endpoint] = Object.fromEntries([...statuses].map(([s, n]) => [String(s), n]));
    return {
      requests_served: this.served,
      requests_failed: this.failed,
      requests_aborted: this.aborted,
      requests,
      errors: Object.fromEntries(this.byKind),
      prompt_tokens_total: this.promptTokens,
      prompt_tokens_cached_total: this.cachedTokens,
      tokens_generated_total: this.generated,
      prefill_tokens_per_second: { last: round(this.prefill.last), avg: round(this.prefill.average) },
      decode_tokens_per_second: { last: round(this.decode.last), avg: round(this.decode.average) },
      queue_depth: this.queue.waiting,
      queue_capacity: this.queue.maxWaiting,
      queue_rejected: this.queue.rejected,
      processing: this.queue.active,
      uptime_seconds: Math.round((this.now() - this.started) / 1000),
    };
  }

  /** The same numbers in Prometheus's text format, names prefixed `woolly_`. */
  prometheus(): string {
    const s = this.snapshot();
    const requests = [...this.byEndpoint].flatMap(([endpoint, statuses]) =>
      [...statuses].map(([status, value]) => ({ labels: { endpoint, status: String(status) }, value })),
    );
    const speed = (x: { last: number; avg: number }) => [
      { labels: { window: "last" }, value: x.last },
      { labels: { window: "all" }, value: x.avg },
    ];
    const families: MetricFamily[] = [
      { name: "woolly_requests_total", help: "Requests answered, by endpoint and HTTP status (499: the client left first).", type: "counter", samples: requests },
      { name: "woolly_errors_total", help: "Requests answered with an error, by kind.", type: "counter", samples: [...this.byKind].map(([kind, value]) => ({ labels: { kind }, value })) },
      { name: "woolly_queue_rejected_total", help: "Requests refused with 503 because the queue was full.", type: "counter", samples: [{ value: s.queue_rejected }] },
      { name: "woolly_prompt_tokens_total", help: "Prompt tokens of finished generations.", type: "counter", samples: [{ value: s.prompt_tokens_total }] },
      { name: "woolly_prompt_tokens_cached_total", help: "Prompt tokens reused from the KV cache instead of computed.", type: "counter", samples: [{ value: s.prompt_tokens_cached_total }] },
      { name: "woolly_tokens_generated_total", help: "Tokens generated.", type: "counter", samples: [{ value: s.tokens_generated_total }] },
      { name: "woolly_prefill_tokens_per_second", help: "Prompt processing speed: the last request's, and token-weighted over all requests.", type: "gauge", samples: speed(s.prefill_tokens_per_second) },
      { name: "woolly_decode_tokens_per_second", help: "Generation speed: the last request's, and token-weighted over all requests.", type: "gauge", samples: speed(s.decode_tokens_per_second) },
      { name: "woolly_queue_depth", help: "Requests waiting for the model.", type: "gauge", samples: [{ value: s.queue_depth }] },
      { name: "woolly_queue_capacity", help: "Requests that may wait before new ones are refused.", type: "gauge", samples: [{ value: s.queue_capacity }] },
      { name: "woolly_requests_processing", help: "Requests holding the model (0 or 1).", type: "gauge", samples: [{ value: s.processing }] },
      { name: "woolly_uptime_seconds", help: "Seconds since the server was created.", type: "gauge", samples: [{ value: s.uptime_seconds }] },
    ];
    return renderPrometheus(families);
  }
}
