// A bounds-checked little-endian cursor over the bytes of a GGUF header.
//
// The cursor may hold only a prefix of the file (the async reader fetches the header in growing
// prefixes). Running off the end of the prefix then throws `NeedMoreBytes`, an internal signal that
// says how many bytes the parse needs; running off the end of the FILE throws GgufError('truncated').
// Every length is checked against the bytes left BEFORE anything is allocated for it.

import { GgufError } from "../errors.js";

/** Internal: the parse ran past the end of a prefix that is not the whole file. Never escapes readGguf. */
export class NeedMoreBytes extends Error {
  /** Prefix length (from byte 0) that would let the parse go past the point where it stopped. */
  readonly needed: number;
  constructor(needed: number) {
    super(`need ${needed} bytes of the header`);
    this.needed = needed;
  }
}

// Strings must round-trip byte for byte: `fatal` refuses invalid UTF-8 instead of replacing it with
// U+FFFD, and `ignoreBOM` keeps a leading U+FEFF that TextDecoder would otherwise silently drop.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class Cursor {
  /** Absolute position of the next byte to read. */
  pos = 0;
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  /** Size of the whole file, when known; `bytes` may be a prefix of it. */
  readonly fileSize: number | undefined;

  constructor(bytes: Uint8Array, fileSize: number | undefined) {
    // A plain view: a Node Buffer's slice() shares memory, which would surprise code downstream.
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.fileSize = fileSize;
  }

  /**
   * Make sure `n` bytes from `pos` are in hand. `what` names the field for the error message.
   * Throws `truncated` if the file ends first, NeedMoreBytes if only the prefix does.
   */
  need(n: number, what: string): void {
    const end = this.pos + n;
    if (end <= this.bytes.length) return;
    if (this.fileSize !== undefined && end > this.fileSize) {
      throw new GgufError(
        "truncated",
        this.pos,
        `file ends while reading ${what}: needs ${n} bytes, ${Math.max(0, this.fileSize - this.pos)} left`,
      );
    }
    // The file goes on past the prefix in hand (or its size is unknown): the caller fetches more.
    throw new NeedMoreBytes(end);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  i8(what: string): number {
    this.need(1, what);
    return this.view.getInt8(this.pos++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(what: string): number {
    this.need(2, what);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /**
   * A u64 count or length that must be at most `max` (a named limit). Returned as a number: every
   * limit is far below 2^53, so the conversion is exact once the check has passed.
   */
  count(what: string, max: number, limitName: string): number {
    const at = this.pos;
    const v = this.u64(what);
    if (v > BigInt(max)) {
      throw new GgufError("limit_exceeded", at, `${what} is ${v}, above ${limitName} (${max})`);
    }
    return Number(v);
  }

  /**
   * A view of the next `n` bytes (no copy). `n` has already passed a limit check; here it is checked
   * against the bytes left, so no caller allocates for bytes the file does not hold.
   */
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * The common case of string(), without its costs: no message strings and no BigInt per call.
   * Returns undefined, without moving, whenever anything is unusual (a length above `maxBytes` or
   * past the bytes in hand, invalid UTF-8); string() then reads the same bytes and reports the
   * problem exactly as before. Vocabulary arrays (262,144 tokens and 514,906 merges for Gemma 4)
   * are read through here.
   */
  stringFast(maxBytes: number): string | undefined {
    const at = this.pos;
    if (at + 8 > this.bytes.length) return undefined;
    const lo = this.view.getUint32(at, true);
    const hi = this.view.getUint32(at + 4, true);
    const start = at + 8;
    if (hi !== 0 || lo > maxBytes || start + lo > this.bytes.length) return undefined;
    let s: string;
    try {
      s = utf8.decode(this.bytes.subarray(start, start + lo));
    } catch {
      return undefined;
    }
    this.pos = start + lo;
    return s;
  }

  /** A GGUF string: u64 byte length, then UTF-8 bytes (no terminator). */
  string(what: string, maxBytes: number, limitName: string): string {
    const n = this.count(`length of ${what}`, maxBytes, limitName);
    const at = this.pos;
    const raw = this.take(n, what);
    try {
      return utf8.decode(raw);
    } catch (cause) {
      throw new GgufError("bad_utf8", at, `${what} is not valid UTF-8`, { cause });
    }
  }
}

