// A loaded model: tokenizer + weights in one WebAssembly memory + KV cache, and the calls a user
// makes on it. Calls are serialized: a second generate() waits for the first to finish. The
// generation loop itself is in src/generate/generate.ts; this class holds what outlives a call
// (the sequence state, the lock, the threads) and delegates.
import { chat, type ChatGeneration, type ChatMessage, type ChatOptions } from "../chat/index.js";
import { ModelError } from "../errors.js";
import type { GgufFile } from "../gguf/index.js";
import { evaluate, generate, type Runner } from "../generate/generate.js";
import type { GenerateOptions, Generation, GenerationResult, TextGenerator } from "../generate/options.js";
import type { SequenceState } from "../generate/sequence.js";
import { TransformerSequence } from "./sequence.js";
import type { Tokenizer } from "../tokenizer/index.js";
import type { Engine } from "../wasm/engine.js";
import type { ModelConfig } from "./config.js";
import type { Threading } from "./exec.js";
import type { Transformer } from "./forward.js";

// Moved to their own modules (the loop needs them without importing Model); re-exported so
// existing imports keep working.
export { ModelError };
export type { Generation };

export class Model implements TextGenerator {
  /** What the generation loop runs on: this model's parts, and its lock. */
  private readonly runner: Runner;
  private queue: Promise<void> = Promise.resolve();
  private disposed = false;

  constructor(
    readonly file: GgufFile,
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    private readonly engine: Engine,
    private readonly net: Transformer,
    private readonly threading: Threading | null = null,
    /** The KV cache's contents; an architecture with recurrent state gives a subclass that saves it too. */
    private readonly sequence: SequenceState = new TransformerSequence(net),
  ) {
    this.runner = {
      tokenizer,
      nVocab: config.nVocab,
      net,
      memory: engine.memory,
      sequence,
      acquire: () => this.acquire(),
    };
  }

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
    return this.exclusive(async () => evaluate(this.runner, tokens));
  }

  /** Stream the continuation of `prompt` (text, or token ids used as they are). */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): Generation {
    return generate(this.runner, prompt, options);
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
    this.sequence.truncate(0);
    this.threading?.end();
  }

  /** Wait until every earlier call has finished; the model must still be alive. Resolves to the release. */
  private async acquire(): Promise<() => void> {
    const release = await this.lock();
    if (this.disposed) {
      release();
      throw new ModelError("disposed", "the model was disposed");
    }
    return release;
  }

  /** Run `f` when every earlier call has finished. */
  private async exclusive<T>(f: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
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
