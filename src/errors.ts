// Every error Woolly throws is a WoollyError subclass with a `kind` discriminant, so callers can
// `switch (err.kind)` without parsing messages. Library code never prints and never exits.

/** Base of every Woolly error. */
export class WoollyError extends Error {
  readonly kind: string;
  constructor(kind: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = new.target.name;
  }
}

/** What can be wrong with a GGUF file. */
export type GgufErrorKind =
  | "bad_magic"
  | "unsupported_version"
  | "truncated"
  | "limit_exceeded"
  | "bad_value_type"
  | "bad_value"
  | "bad_utf8"
  | "bad_tensor"
  | "duplicate_key"
  | "duplicate_tensor"
  | "missing_key"
  | "wrong_type"
  | "io";

/** A malformed or unreadable GGUF file; `offset` is the byte where the problem was found (-1 if none). */
export class GgufError extends WoollyError {
  declare readonly kind: GgufErrorKind;
  readonly offset: number;
  constructor(kind: GgufErrorKind, offset: number, message: string, options?: { cause?: unknown }) {
    super(kind, offset >= 0 ? `${message} (at byte ${offset})` : message, options);
    this.offset = offset;
  }
}

/**
 * What can go wrong in the WebAssembly layer. `worker`: a thread-pool worker could not start, or a
 * kernel failed (trapped) in one; the message carries the worker's own error.
 */
export type WasmErrorKind = "no_simd" | "out_of_memory" | "instantiate" | "worker";

/** The engine cannot run Woolly's kernels, or the linear memory cannot hold what was asked. */
export class WasmError extends WoollyError {
  declare readonly kind: WasmErrorKind;
  constructor(kind: WasmErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
  }
}

/** A parameter outside its allowed range: names the parameter, the range and the value given. */
export class ParameterError extends WoollyError {
  declare readonly kind: "invalid_parameter";
  readonly parameter: string;
  constructor(parameter: string, allowed: string, value: unknown) {
    super("invalid_parameter", `${parameter} must be ${allowed}; got ${formatValue(value)}`);
    this.parameter = parameter;
  }
}

function formatValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return `${v}n`;
  return String(v);
}

/** What can make a GGUF file unloadable as a model even though it parses. */
export type LoadErrorKind =
  | "unsupported_architecture"
  | "unsupported_tensor_type"
  | "missing_tensor"
  | "bad_shape"
  | "bad_hyperparameter"
  | "aborted";

/** A model that cannot be loaded: names the architecture, tensor, type or value at fault. */
export class LoadError extends WoollyError {
  declare readonly kind: LoadErrorKind;
  constructor(kind: LoadErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
  }
}

/** A request the model's state cannot serve. */
export class ModelError extends WoollyError {
  /** encoder_only: generation asked of an embedding encoder (bert); no_rank_head: rank() of a model without one. */
  declare readonly kind: "disposed" | "context_overflow" | "bad_token" | "encoder_only" | "no_rank_head";
  constructor(kind: ModelError["kind"], message: string) {
    super(kind, message);
  }
}

/**
 * A saved session that cannot be restored: `bad_magic` not a Woolly session, `unsupported_version`,
 * `truncated` or `corrupt` (the checksum does not match: flipped or cut bytes), `other_model` (its
 * fingerprint is another model's), `does_not_fit` (more positions than this model's context),
 * `other_kv_type` (saved from a cache of another kvType: f16 and q8_0 rows are not interchangeable).
 * `offset` is the byte where the problem was found (-1 if none). The model is left as it was.
 */
export type SessionErrorKind = "bad_magic" | "unsupported_version" | "truncated" | "corrupt" | "other_model" | "does_not_fit" | "other_kv_type";

export class SessionError extends WoollyError {
  declare readonly kind: SessionErrorKind;
  constructor(
    kind: SessionErrorKind,
    message: string,
    readonly offset = -1,
  ) {
    super(kind, message);
  }
}

/**
 * What can be wrong with a split GGUF set (`name-00001-of-00003.gguf`, written by llama.cpp's
 * gguf-split): a part that is absent or unreadable, given twice, or that does not belong (another
 * split count, the wrong `split.no`, a tensor count that disagrees, a tensor found in two parts).
 */
export type SplitErrorKind = "missing_part" | "duplicate_part" | "part_mismatch";

/** A split GGUF set that cannot be put together; `part` names the file, Blob or URL at fault. */
export class SplitError extends WoollyError {
  declare readonly kind: SplitErrorKind;
  readonly part: string;
  constructor(kind: SplitErrorKind, part: string, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
    this.part = part;
  }
}

/**
 * What can go wrong fetching a model into the cache. `network`: the connection failed or dropped
 * (the partial download is kept and the next attempt resumes it); `offline`: no network and no
 * cached copy; `http`: the server answered with an error status; `size_mismatch`: the bytes received
 * disagree with Content-Length / Content-Range or with the GGUF header's own extent; `checksum`: the
 * sha256 the server gave (x-linked-etag / etag) does not match; `not_gguf`: what arrived is not a
 * GGUF file; `aborted`: the caller's signal fired; `quota`: storage is full; `no_storage`: no cache
 * storage in this runtime; `not_found`: a `hf:` reference names nothing in the repo's listing;
 * `bad_reference`: a malformed `hf:` reference or cache entry name.
 */
export type DownloadErrorKind =
  | "network"
  | "offline"
  | "http"
  | "size_mismatch"
  | "checksum"
  | "not_gguf"
  | "aborted"
  | "quota"
  | "no_storage"
  | "not_found"
  | "bad_reference";

/** A model that could not be downloaded into the cache; `url` names what was being fetched. */
export class DownloadError extends WoollyError {
  declare readonly kind: DownloadErrorKind;
  readonly url: string;
  /** The HTTP status, for kind "http". */
  readonly status: number | undefined;
  constructor(kind: DownloadErrorKind, url: string, message: string, options?: { cause?: unknown; status?: number }) {
    super(kind, message, options);
    this.url = url;
    this.status = options?.status;
  }
}
