// A loaded model: tokenizer + weights in one WebAssembly memory + KV cache, and the calls a user
// makes on it. Calls are serialized: a second generate() waits for the first to finish.
import { WoollyError } from "../errors.js";
import { chat, type ChatGeneration, type ChatMessage, type ChatOptions } from "../chat/index.js";
import type { GgufFile } from "../gguf/index.js";
import { Sampler } from "../sampling/index.js";
import { StopMatcher } from "../generate/stop.js";
import {
  checkMaxTokens,
  type FinishReason,
  type GenerateOptions,
  type GenerationResult,
} from "../generate/options.js";
import type { Tokenizer } from "../tokenizer/index.js";
import type { Engine } from "../wasm/engine.js";
import type { ModelConfig } from "./config.js";
import type { Threading } from "./exec.js";
import type { Transformer } from "./forward.js";

/** A request the model's state cannot serve. */
export class ModelError extends WoollyError {
  declare readonly kind: "disposed" | "context_overflow" | "bad_token";
  constructor(kind: ModelError["kind"], message: string) {
    super(kind, message);
  }
}

/** Streamed text pieces; `result` resolves when the stream ends (or rejects with its error). */
export interface Generation extends AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
}

/** How often (ms) a long generation returns to the event loop so I/O and timers run. */
const YIELD_EVERY_MS = 30;

export class Model {
  /** Token ids whose keys and values are in the KV cache, at positions 0..length-1. */
  private cached: number[] = [];
  private queue: Promise<void> = Promise.resolve();
  private disposed = false;

  constructor(
    readonly file: GgufFile,
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    private readonly engine: Engine,
    private readonly net: Transformer,
    private readonly threading: Threading | null = null,
  ) {}

  /** The context length the KV cache was sized for. */
  get contextLength(): number {
    return this.net.nCtx;
  }

  /** Threads that run the kernels, the calling thread included. */
  get threads(): number {
    return this.threading?.threads ?? 1;
  }

  /** Why fewer threads run than were asked for (e.g. no SharedArrayBuffer); null when the request was met. */
  get threadFallback(): string | null {
    return this.threading?.fallback ?? null;
  }

  /** Bytes of WebAssembly memory the model holds (weights, KV cache, scratch). */
  get memoryBytes(): number {
    return this.engine.memory.buffer.byteLength;
  }

  /** Which kernel build runs: baseline SIMD or relaxed SIMD. */
  get simd(): Engine["flavour"] {
    return this.engine.flavour;
  }

  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): number[] {
    return this.tokenizer.tokenize(text, options);
  }

  detokenize(ids: readonly number[]): string {
    return this.tokenizer.detokenize(ids);
  }

  /**
   * Logits at every position of `tokens`, evaluated from an empty context (as llama.cpp's eval of a
   * prompt gives them): one Float32Array of nVocab per token.
   */
  async logits(tokens: readonly number[]): Promise<Float32Array[]> {
    return this.exclusive(async () => {
      this.checkTokens(tokens);
      if (tokens.length > this.net.nCtx) {
        throw new ModelError("context_overflow", `${tokens.length} tokens do not fit the context of ${this.net.nCtx}`);
      }
      this.cached = [];
      const out: Float32Array[] = [];
      const nVocab = this.config.nVocab;
      for (let at = 0; at < tokens.length; at += this.net.batch) {
        const chunk = tokens.slice(at, at + this.net.batch);
        const ptr = this.net.forward(chunk, at, "all");
        const f = this.engine.f32();
        for (let t = 0; t < chunk.length; t++) out.push(f.slice((ptr >> 2) + t * nVocab, (ptr >> 2) + (t + 1) * nVocab));
        this.cached.push(...chunk);
      }
      return out;
    });
  }

  /** Stream the continuation of `prompt` (text, or token ids used as they are). */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): Generation {
    let settle!: { resolve: (r: GenerationResult) => void; reject: (e: unknown) => void };
    const result = new Promise<GenerationResult>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // A caller that only iterates must not see an unhandled rejection from `result`.
    result.catch(() => undefined);
    const self = this;
    return {
      result,
      [Symbol.asyncIterator]() {
        return self.run(prompt, options, settle);
      },
    };
  }

  /**
   * Stream the assistant's reply to a conversation, rendered with the model's chat template (ChatML
   * when it has none; `.template` says which). Ends at the model's end-of-turn token.
   */
  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): ChatGeneration {
    return chat(this, messages, options);
  }

  /** Generate and return the whole text with timings. */
  async complete(prompt: string | readonly number[], options: GenerateOptions = {}): Promise<GenerationResult> {
    const g = this.generate(prompt, options);
    for await (const _piece of g) {
      // the pieces are collected into result.text
    }
    return g.result;
  }

  /** Free the model's memory. Later calls throw ModelError('disposed'). */
  dispose(): void {
    this.disposed = true;
    this.cached = [];
    this.threading?.end();
  }

  private async *run(
    prompt: string | readonly number[],
    options: GenerateOptions,
    settle: { resolve: (r: GenerationResult) => void; reject: (e: unknown) => void },
  ): AsyncGenerator<string, void, undefined> {
    let release: () => void = () => undefined;
    try {
      const maxTokens = checkMaxTokens(options.maxTokens);
      const stop = new StopMatcher(options.stop ?? []);
      const sampler = new Sampler(this.config.nVocab, options);
      const ids =
        typeof prompt === "string"
          ? this.tokenizer.tokenize(prompt, { addSpecial: options.addSpecial ?? true, parseSpecial: options.parseSpecial ?? true })
          : [...prompt];
      this.checkTokens(ids);
      if (ids.length === 0) throw new ModelError("bad_token", "the prompt is empty: give at least one token");
      if (ids.length >= this.net.nCtx) {
        throw new ModelError(
          "context_overflow",
          `the prompt has ${ids.length} tokens but the context holds ${this.net.nCtx}, which must leave room for at least one generated token`,
        );
      }
      release = await this.lock();
      this.checkAlive();

      // Prefill: reuse the cached prefix, compute the rest in batches.
      const t0 = performance.now();
      let reuse = 0;
      while (reuse < this.cached.length && reuse < ids.length - 1 && this.cached[reuse] === ids[reuse]) reuse++;
      reuse = this.net.reusable(reuse, this.cached.length);
      this.cached.length = reuse;
      let logits = 0;
      for (let at = reuse; at < ids.length; at += this.net.batch) {
        if (options.signal?.aborted) break; // the decode loop reports "aborted"
        const chunk = ids.slice(at, at + this.net.batch);
        logits = this.net.forward(chunk, at, "last");
        this.cached.push(...chunk);
      }
      for (const id of ids) sampler.accept(id);
      const t1 = performance.now();

      // Decode.
      const decoder = this.tokenizer.createDecoder();
      const tokens: number[] = [];
      let text = "";
      let finish: FinishReason = "length";
      let lastYield = performance.now();
      // Decode speed counts forward passes: the first token comes from the prefill's logits.
      let forwards = 0;
      const nVocab = this.config.nVocab;
      // Reused every token: the decode loop allocates nothing of its own.
      const one = new Int32Array(1);
      let view = new Float32Array(0);
      for (;;) {
        if (options.signal?.aborted) {
          finish = "aborted";
          break;
        }
        // The logits of "last" are always at the same place; re-view only if the memory grew.
        if (view.buffer !== this.engine.memory.buffer || view.byteOffset !== logits) {
          view = new Float32Array(this.engine.memory.buffer, logits, nVocab);
        }
        const token = sampler.sample(view);
        if (!options.ignoreEos && this.tokenizer.isEog(token)) {
          finish = "eos";
          break;
        }
        sampler.accept(token);
        tokens.push(token);
        const { emit, stopped } = stop.push(decoder.push(token));
        if (emit) {
          text += emit;
          yield emit;
        }
        if (stopped) {
          finish = "stop";
          break;
        }
        if (tokens.length >= maxTokens) {
          finish = "length";
          break;
        }
        if (this.cached.length >= this.net.nCtx) {
          finish = "context_full";
          break;
        }
        one[0] = token;
        logits = this.net.forward(one, this.cached.length, "last");
        this.cached.push(token);
        forwards++;
        if (performance.now() - lastYield > YIELD_EVERY_MS) {
          await new Promise((r) => setTimeout(r, 0));
          lastYield = performance.now();
        }
      }
      if (finish !== "stop") {
        // Text held back by the decoder (an incomplete character) or by the stop matcher.
        const tail = stop.push(decoder.flush());
        let rest = tail.emit;
        if (tail.stopped) finish = "stop";
        else rest += stop.flush();
        if (rest) {
          text += rest;
          yield rest;
        }
      }
      const t2 = performance.now();
      const prefillTokens = ids.length - reuse;
      settle.resolve({
        text,
        tokens,
        finishReason: finish,
        promptTokens: ids.length,
        cachedTokens: reuse,
        timings: {
          prefillTokens,
          prefillMs: t1 - t0,
          prefillTokensPerSecond: prefillTokens / ((t1 - t0) / 1000),
          decodeTokens: forwards,
          decodeMs: t2 - t1,
          decodeTokensPerSecond: forwards / ((t2 - t1) / 1000),
        },
      });
    } catch (e) {
      settle.reject(e);
      throw e;
    } finally {
      release();
    }
  }

  private checkTokens(ids: readonly number[]): void {
    const n = this.config.nVocab;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= n) {
        throw new ModelError("bad_token", `token ${i} is ${id}, not an id in [0, ${n})`);
      }
    }
  }

  private checkAlive(): void {
    if (this.disposed) throw new ModelError("disposed", "the model was disposed");
  }

  /** Run `f` when every earlier call has finished. */
  private async exclusive<T>(f: () => Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      this.checkAlive();
      return await f();
    } finally {
      release();
    }
  }

  private lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.queue.then(() => release);
    this.queue = this.queue.then(() => next);
    return ready;
  }
}
