// A little-endian byte builder for hand-made (often deliberately broken) GGUF headers in tests.

export class Bytes {
  private parts: number[] = [];

  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.raw(b);
  }
  u64(v: bigint | number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    return this.raw(b);
  }
  f32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.raw(b);
  }
  /** A GGUF string: u64 length (default: the UTF-8 length) then the bytes. */
  str(s: string | Uint8Array, declaredLength?: bigint | number): this {
    const b = typeof s === "string" ? new TextEncoder().encode(s) : s;
    return this.u64(declaredLength ?? b.length).raw(b);
  }
  raw(b: Uint8Array | number[]): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  zeros(n: number): this {
    for (let i = 0; i < n; i++) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** GGUF magic + version + counts. */
export function ggufStart(tensorCount: bigint | number, kvCount: bigint | number, version = 3): Bytes {
  return new Bytes().raw([0x47, 0x47, 0x55, 0x46]).u32(version).u64(tensorCount).u64(kvCount);
}

/** Appends one tensor info: name, dims, type, offset. */
export function tensorInfo(b: Bytes, name: string, dims: (bigint | number)[], type: number, offset: bigint | number): Bytes {
  b.str(name).u32(dims.length);
  for (const d of dims) b.u64(d);
  return b.u32(type).u64(offset);
}

/** A small deterministic PRNG (mulberry32), so fuzz failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
