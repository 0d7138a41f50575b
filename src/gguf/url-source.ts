// A GgufSource over HTTP(S): each read is a `Range: bytes=a-b` request answered with 206 Partial
// Content; the file size comes from Content-Range ("bytes a-b/size").
//
// A server that ignores Range answers 200 with the whole body. Then the source reads that body as a
// stream and consumes only the bytes asked for, keeping the stream open so the next read continues
// from there (reading a header by growing prefixes, or tensors in file order, stays one download).
// A read BEHIND the stream's position starts a new download and skips to it: correct, but slow for
// random access, so use a server with Range support for anything but sequential reading. close()
// cancels an open stream.

import { GgufError } from "../errors.js";
import type { GgufSource } from "./source.js";

export interface UrlSourceOptions {
  /** fetch to use (default: the global one). */
  readonly fetch?: typeof fetch;
  /** Extra request headers (e.g. authorization). */
  readonly headers?: Record<string, string>;
}

/** The BYOB reader's bounce buffer (see bodyInto). */
const BOUNCE_BYTES = 1 << 20;

/** What a 200 response left open: its body reader and the absolute offset of `pending[0]`. */
interface OpenStream {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  pos: number;
  pending: Uint8Array;
}

export class UrlSource implements GgufSource {
  readonly url: string;
  size: number | undefined = undefined;
  /** False once the server answered a Range request with 200; undefined until the first answer. */
  rangeSupported: boolean | undefined = undefined;
  /** Body bytes received so far (for diagnostics and tests). */
  bytesReceived = 0;
  private readonly fetchFn: typeof fetch;
  private readonly headers: Record<string, string>;
  private stream: OpenStream | undefined;
  /** The BYOB reader's bounce buffer, kept across requests (each read transfers it and hands it back). */
  private bounce: Uint8Array<ArrayBuffer> | undefined;
  /**
   * The bytes the stream delivered last. readGguf's final prefix read overshoots the header, so the
   * first tensor usually starts inside it; serving that from here saves restarting the download.
   */
  private last: { offset: number; bytes: Uint8Array } | undefined;

  constructor(url: string | URL, options: UrlSourceOptions = {}) {
    this.url = String(url);
    this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.headers = { ...options.headers };
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (length <= 0 || (this.size !== undefined && offset >= this.size)) return new Uint8Array(0);
    if (this.size !== undefined) length = Math.min(length, this.size - offset);
    if (this.rangeSupported === false) return this.readFromStream(offset, length, signal);
    const out = new Uint8Array(length);
    const n = await this.readInto(offset, out, signal);
    return n === length ? out : out.subarray(0, n);
  }

  /**
   * The bytes at `offset` written straight into `target` (a view of WebAssembly memory while a model
   * loads): no buffer per request, so loading from a URL neither copies twice nor leaves garbage the
   * size of the model for the collector. Returns how many bytes were written (fewer at the file's end).
   */
  async readInto(offset: number, target: Uint8Array, signal?: AbortSignal): Promise<number> {
    if (target.length === 0 || (this.size !== undefined && offset >= this.size)) return 0;
    const length = this.size === undefined ? target.length : Math.min(target.length, this.size - offset);
    const into = target.subarray(0, length);
    if (this.rangeSupported === false) return this.streamInto(offset, into, signal);

    const res = await this.fetchFn(this.url, {
      headers: { ...this.headers, Range: `bytes=${offset}-${offset + length - 1}` },
      signal,
    });
    if (res.status === 206) {
      this.rangeSupported = true;
      const range = parseContentRange(res.headers.get("content-range"));
      if (range === undefined || range.start !== offset) {
        await res.body?.cancel();
        throw new GgufError("io", offset, `${this.url}: bad Content-Range "${res.headers.get("content-range")}" for a request from byte ${offset}`);
      }
      if (range.size !== undefined) this.size = range.size;
      const filled = await this.bodyInto(res, into);
      // A server may send less than asked for; ask again for the rest unless the file ended.
      if (filled < length && filled > 0 && (this.size === undefined || offset + filled < this.size)) {
        return filled + (await this.readInto(offset + filled, into.subarray(filled), signal));
      }
      return filled;
    }
    if (res.status === 416) {
      // Range not satisfiable: the offset is at or past the end; learn the size from "bytes */size".
      await res.body?.cancel();
      const m = /^bytes \*\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
      if (m) this.size = Number(m[1]);
      return 0;
    }
    if (res.status === 200) {
      this.rangeSupported = false;
      this.adoptStream(res);
      return this.streamInto(offset, into, signal);
    }
    await res.body?.cancel();
    throw new GgufError("io", offset, `${this.url}: HTTP ${res.status} ${res.statusText}`);
  }

  /** Fills `target` from the open stream of a server without Range support (see readFromStream). */
  private async streamInto(offset: number, target: Uint8Array, signal?: AbortSignal): Promise<number> {
    const bytes = await this.readFromStream(offset, target.length, signal);
    target.set(bytes);
    return bytes.length;
  }

  /**
   * A body's first `target.length` bytes into target; the rest (a server may send more than the range)
   * is cancelled. Where the body is a byte stream (browsers, Deno, Bun, Node 24), it is read with a BYOB
   * reader into one bounce buffer that comes back with each read, so a download makes no garbage per
   * chunk (measured in Chromium: the default reader's chunks, awaiting collection, put the page at 1.8x
   * the file). The target itself cannot be the BYOB view: WebAssembly memory cannot be transferred.
   */
  private async bodyInto(res: Response, target: Uint8Array): Promise<number> {
    if (res.body === null) return 0;
    const length = target.length;
    let filled = 0;
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      byob = res.body.getReader({ mode: "byob" });
    } catch {
      byob = undefined;
    }
    if (byob !== undefined) {
      let bounce = this.bounce ?? new Uint8Array(BOUNCE_BYTES);
      this.bounce = undefined;
      while (filled < length) {
        const { done, value } = await byob.read(bounce.subarray(0, Math.min(bounce.length, length - filled)));
        if (value === undefined) return filled;
        this.bytesReceived += value.length;
        target.set(value, filled);
        filled += value.length;
        bounce = new Uint8Array(value.buffer);
        if (done) break;
      }
      this.bounce = bounce;
      if (filled < length) return filled;
      await byob.cancel().catch(() => undefined);
      return filled;
    }
    const reader = res.body.getReader();
    while (filled < length) {
      const { done, value } = await reader.read();
      if (done) return filled;
      this.bytesReceived += value.length;
      const take = Math.min(value.length, length - filled);
      target.set(value.subarray(0, take), filled);
      filled += take;
    }
    await reader.cancel().catch(() => undefined);
    return filled;
  }

  async close(): Promise<void> {
    this.last = undefined;
    await this.cancelStream();
  }

  private async cancelStream(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    if (s) await s.reader.cancel().catch(() => undefined);
  }

  /** Takes a 200 response's body as the open stream; Content-Length is the size unless encoded. */
  private adoptStream(res: Response): void {
    const len = res.headers.get("content-length");
    const enc = res.headers.get("content-encoding");
    if (len !== null && /^\d+$/.test(len) && (enc === null || enc === "identity")) this.size = Number(len);
    if (res.body === null) throw new GgufError("io", 0, `${this.url}: response has no body`);
    this.stream = { reader: res.body.getReader(), pos: 0, pending: new Uint8Array(0) };
  }

  private async readFromStream(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const last = this.last;
    const lastEnd = last === undefined ? 0 : last.offset + last.bytes.length;
    if (last !== undefined && offset >= last.offset && offset < lastEnd) {
      const head = last.bytes.subarray(offset - last.offset, Math.min(lastEnd, offset + length) - last.offset);
      if (head.length === length) return head.slice();
      if (this.stream !== undefined && this.stream.pos === lastEnd) {
        const tail = await this.readFromStream(lastEnd, length - head.length, signal);
        const out = new Uint8Array(head.length + tail.length);
        out.set(head);
        out.set(tail, head.length);
        return out;
      }
    }
    if (this.stream === undefined || this.stream.pos > offset) {
      await this.cancelStream();
      const res = await this.fetchFn(this.url, { headers: this.headers, signal });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new GgufError("io", offset, `${this.url}: HTTP ${res.status} ${res.statusText}`);
      }
      this.adoptStream(res);
    }
    const s = this.stream;
    if (s === undefined) throw new GgufError("io", offset, `${this.url}: no stream`);
    const out = new Uint8Array(length);
    let filled = 0;
    const onAbort = (): void => void this.cancelStream();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      while (filled < length) {
        signal?.throwIfAborted();
        if (s.pending.length === 0) {
          const { done, value } = await s.reader.read();
          if (done) {
            this.size ??= s.pos;
            break;
          }
          this.bytesReceived += value.length;
          s.pending = value;
        }
        // Skip what lies before `offset`, then copy what lies in [offset, offset + length).
        const skip = Math.min(s.pending.length, Math.max(0, offset - s.pos));
        const take = Math.min(s.pending.length - skip, length - filled);
        out.set(s.pending.subarray(skip, skip + take), filled);
        filled += take;
        s.pending = s.pending.subarray(skip + take);
        s.pos += skip + take;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (this.size !== undefined && s.pos >= this.size) await this.cancelStream();
    const result = filled === length ? out : out.subarray(0, filled);
    this.last = { offset, bytes: result };
    return result;
  }
}

/** A GgufSource over a URL; see UrlSource. */
export function urlSource(url: string | URL, options?: UrlSourceOptions): UrlSource {
  return new UrlSource(url, options);
}

function parseContentRange(h: string | null): { start: number; end: number; size: number | undefined } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((h ?? "").trim());
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), size: m[3] === "*" ? undefined : Number(m[3]) };
}
