// A loaded model: tokenizer + weights in WebAssembly memory (one, or one per shard past 4 GiB) + KV cache, and the calls a user
// makes on it. Calls are serialized: a second generate() waits for the first to finish. The
// generation loop itself is in src/generate/generate.ts; this class holds what outlives a call
// (the sequence state, the lock, the threads) and delegates.
import { chat, type ChatGeneration, type ChatMessage, type ChatOptions } from "../chat/index.js";
import { ModelError, SessionError } from "../errors.js";
import { checkTokens } from "../generate/generate.js";
import { decodeSession, encodeSession, fingerprint } from "./session.js";
import type { GgufFile } from "../gguf/index.js";
import { evaluate, generate, type ForwardPass, type Runner } from "../generate/generate.js";
import type { GenerateOptions, Generation, GenerationResult, TextGenerator } from "../generate/options.js";
import { SequenceState } from "../generate/sequence.js";
import { TransformerSequence } from "./sequence.js";
import type { Tokenizer } from "../tokenizer/index.js";
import type { Engine } from "../wasm/engine.js";
import type { ModelConfig } from "./config.js";
import type { Threading } from "./exec.js";
import { Encoder } from "./encoder.js";
import { embed, hiddenStates, inputIds, rerankIds, type EmbedInput, type EmbedOptions, type EmbedParts } from "./embed.js";
import type { Transformer } from "./forward.js";
import type { KvType } from "./kv-cache.js";

// Moved to their own modules (the loop needs them without importing Model); re-exported so
// existing imports keep working.
export { ModelError };
export type { Generation };

export class Model implements TextGenerator {
  /** What the generation loop runs on: this model's parts, and its lock. */
  private readonly runner: Runner;
  /** What embed() runs on. */
  private readonly parts: EmbedParts;
  private queue: Promise<void> = Promise.resolve();
  private disposed = false;
  /** The memory the forward pass leaves logits and hidden states in (the only one under 4 GiB). */
  private readonly engine: Engine;

  constructor(
    readonly file: GgufFile,
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    /** The model's memories, in shard order (one unless the model passes one memory's 4 GiB). */
    private readonly engines: readonly Engine[],
    /** The decoder's forward pass, or the encoder (bert) of an embedding model. */
    net: Transformer | Encoder,
    private readonly threading: Threading | null = null,
    /** The KV cache's contents; an architecture with recurrent state gives a subclass that saves it too. */
    private readonly sequence: SequenceState = net instanceof Encoder ? new SequenceState() : new TransformerSequence(net),
  ) {
    const encoder = net instanceof Encoder ? net : null;
    const engine = encoder ? engines[0] : (net as Transformer).outputEngine;
    this.engine = engine;
    this.runner = {
      tokenizer,
      nVocab: config.nVocab,
      net: encoder ? noForward(encoder.nCtx) : (net as Transformer),
      memory: engine.memory,
      sequence,
      acquire: () => this.acquire(),
    };
    this.parts = { config, tokenizer, engine, encoder, net: encoder ? null : (net as Transformer), sequence };
  }

  /** The context length the KV cache was sized for (an encoder: the most tokens one input may have). */
  get contextLength(): number {
    return this.runner.net.nCtx;
  }

  /** Whether the model generates text; an encoder (bert) only embeds. */
  get generative(): boolean {
    return this.parts.encoder === null;
  }

  /**
   * One embedding per input (text, or token ids), pooled from the final hidden states and L2-normalised
   * unless `normalize: false`. Pooling defaults to the file's (bert: `pooling_type`), else mean for an
   * encoder and the last token for a decoder (see EmbedOptions).
   */
  async embed(texts: EmbedInput | readonly EmbedInput[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    return this.exclusive(async () => embed(this.parts, texts, options));
  }

  /** Whether rank() works: an encoder with a classification head (a reranker such as bge-reranker). */
  get canRank(): boolean {
    return this.parts.encoder?.hasRankHead ?? false;
  }

  /**
   * How relevant each document is to `query`: the rank head's first output for the pair (a logit; higher is
   * more relevant), as llama.cpp's /rerank scores it. One score per document, in the documents' order.
   */
  async rank(query: string, documents: readonly string[]): Promise<{ score: number; tokens: number }[]> {
    const encoder = this.parts.encoder;
    if (!encoder?.hasRankHead) {
      throw new ModelError("no_rank_head", `this ${this.config.arch} model has no rank head (cls / cls.output tensors): it cannot rerank`);
    }
    const template = this.file.getString("tokenizer.chat_template.rerank", "");
    return this.exclusive(async () =>
      documents.map((doc) => {
        const ids = inputIds(this.parts, rerankIds(this.tokenizer, template === "" ? undefined : template, query, doc));
        encoder.encode(ids);
        return { score: this.engine.f32()[encoder.rank() >> 2], tokens: ids.length };
      }),
    );
  }

  /** Every token's final hidden state for one input, unpooled and unnormalised (llama.cpp's pooling "none"). */
  async tokenEmbeddings(input: EmbedInput): Promise<Float32Array[]> {
    return this.exclusive(async () => {
      const ids = inputIds(this.parts, input);
      const h = hiddenStates(this.parts, ids);
      const dim = this.config.dim;
      return ids.map((_, t) => h.slice(t * dim, (t + 1) * dim));
    });
  }

  /** Threads that run the kernels, the calling thread included. */
  get threads(): number {
    return this.threading?.threads ?? 1;
  }

  /** Why fewer threads run than were asked for (e.g. no SharedArrayBuffer); null when the request was met. */
  get threadFallback(): string | null {
    return this.threading?.fallback ?? null;
  }

  /** How the KV cache stores keys and values: the load option kvType ("f16" for an encoder, which keeps none). */
  get kvType(): KvType {
    return this.parts.net?.cache.kvType ?? "f16";
  }

  /** Bytes the KV cache's key and value rows take, over all attention layers (0 for an encoder). */
  get kvCacheBytes(): number {
    return this.parts.net?.cache.kvBytes ?? 0;
  }

  /** Bytes of WebAssembly memory the model holds (weights, KV cache, scratch), over all its memories. */
  get memoryBytes(): number {
    return this.engines.reduce((s, e) => s + e.memory.buffer.byteLength, 0);
  }

  /** How many WebAssembly memories the model is split over (1 unless it passes one memory's 4 GiB). */
  get memories(): number {
    return this.engines.length;
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
    this.mustGenerate();
    return this.exclusive(async () => evaluate(this.runner, tokens));
  }

  /** Stream the continuation of `prompt` (text, or token ids used as they are). */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): Generation {
    this.mustGenerate();
    return generate(this.runner, prompt, options);
  }

  /**
   * Stream the assistant's reply to a conversation, rendered with the model's chat template (ChatML
   * when it has none; `.template` says which). Ends at the model's end-of-turn token.
   */
  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): ChatGeneration {
    this.mustGenerate();
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

  /**
   * The session as bytes: the tokens in the KV cache and what they left there (and lfm2's conv state),
   * with a version, this model's fingerprint and a checksum. Waits for running calls to finish.
   */
  async saveSession(): Promise<Uint8Array> {
    return this.exclusive(async () => {
      const n = this.sequence.length;
      const cache = this.decoder().cache;
      return encodeSession(this.fingerprint(), { tokens: this.sequence.tokens, layers: cache.snapshot(n), kvType: cache.kvType });
    });
  }

  /**
   * Restore a session saveSession() gave (this model's, or one of the same file): the next generate()
   * or chat() continues from it as if never interrupted. A snapshot of another model, a truncated or
   * altered one, one that does not fit this context, or one saved with another kvType (`other_kv_type`) is
   * refused with a SessionError, and the model keeps the state it had.
   */
  async loadSession(bytes: Uint8Array): Promise<void> {
    return this.exclusive(async () => {
      const net = this.decoder();
      const s = decodeSession(bytes, this.fingerprint());
      if (s.kvType !== net.cache.kvType) {
        throw new SessionError(
          "other_kv_type",
          `the session was saved from a KV cache of kvType "${s.kvType}"; this model was loaded with kvType "${net.cache.kvType}" ` +
            `(load it with kvType "${s.kvType}" to restore this session)`,
        );
      }
      if (s.tokens.length > net.nCtx) {
        throw new SessionError("does_not_fit", `the session holds ${s.tokens.length} positions; this model's context holds ${net.nCtx}`);
      }
      try {
        checkTokens(s.tokens, this.config.nVocab);
      } catch (e) {
        throw new SessionError("corrupt", `the session's tokens are not this model's: ${(e as Error).message}`);
      }
      const why = net.cache.misfit(s.tokens.length, s.layers);
      if (why) throw new SessionError("does_not_fit", `the session does not fit this model's cache: ${why}`);
      net.cache.restore(s.layers);
      this.sequence.truncate(0);
      this.sequence.append(s.tokens);
    });
  }

  /** Forget the session (the next call computes its prompt from the start); resolves to the positions dropped. */
  async eraseSession(): Promise<number> {
    return this.exclusive(async () => {
      const n = this.sequence.length;
      this.sequence.truncate(0);
      return n;
    });
  }

  /** The decoder's forward pass; an encoder (bert) keeps no sequence to save. */
  private decoder(): Transformer {
    if (!this.parts.net) throw new ModelError("encoder_only", "an embedding model (encoder) has no session to save or restore");
    return this.parts.net;
  }

  private fp: Uint8Array | null = null;
  private fingerprint(): Uint8Array {
    return (this.fp ??= fingerprint(this.config, this.file));
  }

  /** Free the model's memory. Later calls throw ModelError('disposed'). */
  dispose(): void {
    this.disposed = true;
    this.sequence.truncate(0);
    this.threading?.end();
  }

  /** ModelError('encoder_only') for an encoder: it has no output head to generate with. */
  private mustGenerate(): void {
    if (!this.generative) {
      throw new ModelError("encoder_only", `this ${this.config.arch} model is an encoder: it makes embeddings (embed()), it does not generate text`);
    }
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

/** The generation loop's forward pass for an encoder: never called (generate() refuses first). */
function noForward(nCtx: number): ForwardPass {
  return {
    nCtx,
    batch: 1,
    forward() {
      throw new ModelError("encoder_only", "an encoder does not generate text");
    },
  };
}
