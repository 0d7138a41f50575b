// A model's session as bytes: the tokens the KV cache holds and what they left in it, so a conversation
// can continue later (another process, a page reload) exactly as if never interrupted.
//
//   0   "WOOLSESS"                      8 bytes
//   8   version                         u32 (2)
//   12  fingerprint                     8 bytes: FNV-1a of the architecture, shapes and tensor table
//   20  kvType                          u32: 0 f16, 1 q8_0 (version 2; version 1 has no such word and is f16)
//   24  nTokens                         u32, then nTokens × u32 token ids
//       nLayers                         u32, then per layer:
//         kind                          u32: 0 attention, 1 short conv
//         first                         u32: first saved position (attention; 0 for conv)
//         kBytes, K rows | state        u32 + bytes (rows as the cache stores them: f16, or block_q8_0)
//         vBytes, V rows                u32 + bytes (0 for conv)
//   end-4  CRC-32 of everything before  u32
//
// Little-endian. The sampler keeps no state between calls (each generate() starts its own), so a session
// is the sequence alone. Restoring checks everything — magic, version, checksum, fingerprint, shapes and
// capacities — before it writes a byte, so a bad snapshot leaves the model as it was.
import { SessionError } from "../errors.js";
import type { GgufFile } from "../gguf/index.js";
import type { ModelConfig } from "./config.js";
import { KV_CODE, KV_TYPES, type KvType, type SavedLayer } from "./kv-cache.js";

const MAGIC = "WOOLSESS";
export const SESSION_VERSION = 2;

export interface Session {
  readonly tokens: readonly number[];
  readonly layers: readonly SavedLayer[];
  /** How the rows are stored (a session restores only into a cache of the same type). */
  readonly kvType: KvType;
}

/** 8 bytes naming the model: architecture, shapes, and every tensor's name, type, dims and offset. */
export function fingerprint(config: ModelConfig, file: GgufFile): Uint8Array {
  const c = config;
  const parts = [c.arch, c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.headDim, c.nVocab, JSON.stringify(c.layers)];
  for (const t of file.tensors) parts.push(t.name, t.type, t.dims.join("x"), t.offset);
  const text = new TextEncoder().encode(parts.join("\u0000"));
  // Two 32-bit FNV-1a lanes with different offsets: 64 bits that tell models apart (not a security hash).
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    a = Math.imul(a ^ text[i], 0x01000193) >>> 0;
    b = Math.imul(b ^ text[i], 0x01000193 + 2) >>> 0;
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setUint32(0, a, true);
  new DataView(out.buffer).setUint32(4, b, true);
  return out;
}

export function encodeSession(fp: Uint8Array, s: Session): Uint8Array {
  let size = 24 + 4 + 4 * s.tokens.length + 4 + 4;
  for (const l of s.layers) size += 16 + l.k.length + l.v.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (let i = 0; i < 8; i++) out[at++] = MAGIC.charCodeAt(i);
  dv.setUint32(at, SESSION_VERSION, true);
  out.set(fp, 12);
  dv.setUint32(20, KV_CODE[s.kvType], true);
  at = 24;
  dv.setUint32(at, s.tokens.length, true);
  at += 4;
  for (const t of s.tokens) {
    dv.setUint32(at, t, true);
    at += 4;
  }
  dv.setUint32(at, s.layers.length, true);
  at += 4;
  for (const l of s.layers) {
    dv.setUint32(at, l.kind === "conv" ? 1 : 0, true);
    dv.setUint32(at + 4, l.first, true);
    dv.setUint32(at + 8, l.k.length, true);
    out.set(l.k, at + 12);
    at += 12 + l.k.length;
    dv.setUint32(at, l.v.length, true);
    out.set(l.v, at + 4);
    at += 4 + l.v.length;
  }
  dv.setUint32(at, crc32(out.subarray(0, at)), true);
  return out;
}

/** The token count of a session's bytes, as saveSession() wrote them (the word after the header, by version). */
export function sessionTokenCount(bytes: Uint8Array): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return dv.getUint32(dv.getUint32(8, true) >= 2 ? 24 : 20, true);
}

/** Parse and check a session's bytes (everything but whether it fits the cache: KvCache.misfit). */
export function decodeSession(bytes: Uint8Array, fp: Uint8Array): Session {
  if (!(bytes instanceof Uint8Array)) throw new SessionError("bad_magic", "a session is a Uint8Array of the bytes saveSession() gave");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number, what: string) => {
    if (at + n > bytes.length - 4) throw new SessionError("truncated", `the session ends inside ${what} (byte ${at}, ${bytes.length} bytes in all)`, at);
  };
  if (bytes.length < 8 || String.fromCharCode(...bytes.subarray(0, 8)) !== MAGIC) {
    throw new SessionError("bad_magic", "these bytes are not a Woolly session (no WOOLSESS magic)", 0);
  }
  if (bytes.length < 28) throw new SessionError("truncated", `a session has at least 28 bytes; these are ${bytes.length}`, bytes.length);
  const version = dv.getUint32(8, true);
  if (version !== 1 && version !== SESSION_VERSION) {
    throw new SessionError("unsupported_version", `session version ${version}; this Woolly reads versions 1 to ${SESSION_VERSION}`, 8);
  }
  const end = bytes.length - 4;
  if (crc32(bytes.subarray(0, end)) !== dv.getUint32(end, true)) {
    throw new SessionError("corrupt", "the session's checksum does not match its bytes (changed or cut short)", end);
  }
  for (let i = 0; i < 8; i++) {
    if (bytes[12 + i] !== fp[i]) throw new SessionError("other_model", "the session was saved by another model (its fingerprint differs)", 12);
  }
  let at = 20;
  let kvType: KvType = "f16";
  if (version >= 2) {
    need(at, 4, "the KV cache type");
    const code = dv.getUint32(at, true);
    const type = KV_TYPES.find((t) => KV_CODE[t] === code);
    if (type === undefined) throw new SessionError("corrupt", `the session's KV cache type is ${code}, none this Woolly knows`, at);
    kvType = type;
    at += 4;
  }
  need(at, 4, "the token count");
  const nTokens = dv.getUint32(at, true);
  at += 4;
  need(at, 4 * nTokens, "the tokens");
  const tokens: number[] = [];
  for (let i = 0; i < nTokens; i++, at += 4) tokens.push(dv.getUint32(at, true));
  need(at, 4, "the layer count");
  const nLayers = dv.getUint32(at, true);
  at += 4;
  const layers: SavedLayer[] = [];
  for (let l = 0; l < nLayers; l++) {
    need(at, 12, `layer ${l}'s header`);
    const kind = dv.getUint32(at, true);
    if (kind > 1) throw new SessionError("corrupt", `layer ${l} has kind ${kind}`, at);
    const first = dv.getUint32(at + 4, true);
    const kBytes = dv.getUint32(at + 8, true);
    at += 12;
    need(at, kBytes + 4, `layer ${l}'s keys`);
    const k = bytes.slice(at, at + kBytes);
    at += kBytes;
    const vBytes = dv.getUint32(at, true);
    at += 4;
    need(at, vBytes, `layer ${l}'s values`);
    const v = bytes.slice(at, at + vBytes);
    at += vBytes;
    layers.push({ kind: kind === 1 ? "conv" : "attention", first, k, v });
  }
  if (at !== end) throw new SessionError("corrupt", `${end - at} bytes follow the last layer`, at);
  return { tokens, layers, kvType };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE), as zlib computes it. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
