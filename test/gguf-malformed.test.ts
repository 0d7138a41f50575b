// Hostile input: every malformed header must end in a GgufError with a kind and an offset — never a
// RangeError, a hang, or a huge allocation.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GgufError, type GgufErrorKind } from "../src/errors.js";
import { GgufValueType, parseGguf, writeGguf } from "../src/gguf/index.js";
import { GgmlType } from "../src/quant/types.js";
import { Bytes, ggufStart, prng, tensorInfo } from "./helpers/bytes.js";
import { fixturePath } from "./helpers/fixtures.js";

/** Runs parseGguf and returns the GgufError it throws; fails on success or on any other exception. */
function parseError(bytes: Uint8Array): GgufError {
  try {
    parseGguf(bytes);
  } catch (e) {
    if (e instanceof GgufError) return e;
    throw new Error(`expected a GgufError, got ${String(e)}`, { cause: e });
  }
  throw new Error("expected a GgufError, but the bytes parsed");
}

function expectKind(bytes: Uint8Array, kind: GgufErrorKind, message?: RegExp): GgufError {
  const e = parseError(bytes);
  expect(e.kind, e.message).toBe(kind);
  if (message) expect(e.message).toMatch(message);
  return e;
}

const small = readFileSync(fixturePath("models", "stories260K-Q4_0.gguf"));

/** A minimal valid file: one u32 key, one F32 tensor of 8 elements at offset 0. */
function minimal(): Bytes {
  const b = ggufStart(1, 1).str("a.key").u32(GgufValueType.UINT32).u32(7);
  return tensorInfo(b, "t", [8], GgmlType.F32, 0);
}
function withData(b: Bytes, dataBytes: number): Uint8Array {
  const pad = (32 - (b.length % 32)) % 32;
  return b.zeros(pad + dataBytes).build();
}

describe("truncation", () => {
  it("at every byte of a real header gives truncated (inside the header) or bad_tensor (data cut)", () => {
    const g = parseGguf(small);
    expect(g.headerSize).toBeGreaterThan(10000);
    for (let cut = 0; cut < g.dataOffset + 64; cut++) {
      const e = parseError(small.subarray(0, cut));
      if (cut < g.headerSize) {
        expect(e.kind, `cut at ${cut}: ${e.message}`).toBe("truncated");
        expect(e.offset).toBeGreaterThanOrEqual(0);
        expect(e.offset).toBeLessThanOrEqual(cut);
      } else {
        expect(e.kind, `cut at ${cut}: ${e.message}`).toBe("bad_tensor");
        expect(e.message).toMatch(/beyond the end of the file/);
      }
    }
  });

  it("the whole file parses and the first byte short of it does not", () => {
    expect(parseGguf(small).tensors.length).toBe(48);
    expectKind(small.subarray(0, small.length - 1), "bad_tensor", /blk\.4\.ffn_norm\.weight/);
  });
});

describe("random corruption", () => {
  // No wall-clock bound: a corrupt count that made the parser loop or allocate without limit is
  // caught by the test timeout and by the "fail before allocating" tests below, the same on a
  // loaded machine as on a fast one.
  it("flipping bytes of a real header either parses or throws GgufError", () => {
    const g = parseGguf(small);
    const rand = prng(12345);
    let parsed = 0;
    const kinds = new Map<string, number>();
    for (let trial = 0; trial < 3000; trial++) {
      const copy = new Uint8Array(small);
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips; k++) {
        // Mostly the structural fields near the start and the tensor table near the end.
        const at = rand() < 0.5 ? Math.floor(rand() * 64) : Math.floor(rand() * g.headerSize);
        copy[at] = rand() < 0.5 ? copy[at] ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
      }
      try {
        parseGguf(copy);
        parsed++;
      } catch (e) {
        if (!(e instanceof GgufError)) throw new Error(`trial ${trial}: ${String(e)}`, { cause: e });
        kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
      }
    }
    expect(parsed).toBeGreaterThan(0);
    expect(kinds.size).toBeGreaterThan(3);
  });
});

describe("huge counts and lengths fail before allocating", () => {
  const heapBefore = (): number => process.memoryUsage().heapUsed;

  for (const n of [2n ** 63n, 2n ** 64n - 1n, 2n ** 32n - 1n]) {
    it(`tensor count ${n}`, () => {
      const e = expectKind(ggufStart(n, 0).build(), "limit_exceeded", /tensor count/);
      expect(e.offset).toBe(8);
    });
    it(`metadata count ${n}`, () => {
      expectKind(ggufStart(0, n).build(), "limit_exceeded", /metadata key count/);
    });
    it(`string length ${n}`, () => {
      const h0 = heapBefore();
      expectKind(ggufStart(0, 1).str("k").u32(GgufValueType.STRING).u64(n).raw([1, 2, 3]).build(), "limit_exceeded", /maxStringBytes/);
      expect(heapBefore() - h0).toBeLessThan(32 << 20);
    });
    it(`array length ${n}`, () => {
      expectKind(ggufStart(0, 1).str("k").u32(GgufValueType.ARRAY).u32(GgufValueType.UINT64).u64(n).build(), "limit_exceeded", /maxArrayLength/);
    });
  }

  it("key length 2^63", () => {
    expectKind(ggufStart(0, 1).u64(2n ** 63n).zeros(16).build(), "limit_exceeded", /key of metadata pair 0/);
  });

  it("counts within the limits but beyond the bytes present", () => {
    expectKind(ggufStart(1000, 0).build(), "truncated", /1000 tensor infos/);
    expectKind(ggufStart(0, 100000).build(), "truncated");
    expectKind(ggufStart(0, 1).str("k").u32(GgufValueType.STRING).u64(1_000_000).raw([65]).build(), "truncated");
    const h0 = heapBefore();
    expectKind(ggufStart(0, 1).str("k").u32(GgufValueType.ARRAY).u32(GgufValueType.FLOAT64).u64(60_000_000).build(), "truncated");
    expectKind(ggufStart(0, 1).str("k").u32(GgufValueType.ARRAY).u32(GgufValueType.STRING).u64(60_000_000).build(), "truncated");
    expectKind(ggufStart(0, 1).str("k").u32(GgufValueType.ARRAY).u32(GgufValueType.ARRAY).u64(60_000_000).build(), "truncated");
    expect(heapBefore() - h0).toBeLessThan(32 << 20);
  });

  it("arrays nested deeper than maxNesting", () => {
    const b = ggufStart(0, 1).str("deep").u32(GgufValueType.ARRAY);
    for (let i = 0; i < 20; i++) b.u32(GgufValueType.ARRAY).u64(1);
    b.u32(GgufValueType.UINT8).u64(0);
    expectKind(b.build(), "limit_exceeded", /maxNesting/);
  });
});

describe("header fields", () => {
  it("bad magic", () => {
    const b = minimal().build();
    b[0] = 0x47;
    b[3] = 0x4c;
    expectKind(b, "bad_magic", /"GGUL"/);
  });
  it("version 1, 0, 4 and a big-endian file", () => {
    expectKind(ggufStart(0, 0, 1).build(), "unsupported_version", /version 1/);
    expectKind(ggufStart(0, 0, 0).build(), "unsupported_version");
    expectKind(ggufStart(0, 0, 4).build(), "unsupported_version", /version 4/);
    expectKind(ggufStart(0, 0, 0x03000000).build(), "unsupported_version", /big-endian/);
  });
  it("version 2 parses", () => {
    expect(parseGguf(withData(ggufStart(0, 0, 2), 0)).version).toBe(2);
  });
  it("unknown value types", () => {
    expectKind(ggufStart(0, 1).str("k").u32(13).build(), "bad_value_type", /"k"/);
    expectKind(ggufStart(0, 1).str("k").u32(GgufValueType.ARRAY).u32(0xffffffff).u64(0).build(), "bad_value_type");
  });
  it("invalid UTF-8 in a key and a value", () => {
    expectKind(ggufStart(0, 1).str(new Uint8Array([0xc3, 0x28])).u32(GgufValueType.UINT8).u8(0).build(), "bad_utf8");
    expectKind(ggufStart(0, 1).str("k").u32(GgufValueType.STRING).str(new Uint8Array([0xff])).build(), "bad_utf8", /"k"/);
  });
  // String arrays are read by a fast path that leaves every unusual item to the named reader.
  it("string array items: errors name the item", () => {
    const arr = (): ReturnType<typeof ggufStart> => ggufStart(0, 1).str("k").u32(GgufValueType.ARRAY).u32(GgufValueType.STRING).u64(2).str("ok");
    expectKind(arr().str(new Uint8Array([0xe2, 0x96])).build(), "bad_utf8", /item 1 of "k"/);
    expectKind(arr().str(new Uint8Array([0xed, 0xa0, 0x80])).build(), "bad_utf8", /item 1 of "k"/); // a surrogate
    expectKind(arr().u64(2n ** 40n).build(), "limit_exceeded", /length of item 1 of "k"/);
    expectKind(arr().u64(9).raw([0x61]).build(), "truncated", /item 1 of "k"/);
    const g = parseGguf(arr().str("\u2581\u{1F999}\ufeff").build());
    expect(g.metadata.get("k")).toEqual({ type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, items: ["ok", "\u2581\u{1F999}\ufeff"] } });
  });
  it("a leading byte-order mark survives", () => {
    const g = parseGguf(ggufStart(0, 1).str("k").u32(GgufValueType.STRING).str("\ufeffx").build());
    expect(g.getString("k")).toBe("\ufeffx");
  });
  it("empty and duplicate keys", () => {
    expectKind(ggufStart(0, 1).str("").u32(GgufValueType.UINT8).u8(0).build(), "bad_value");
    const dup = ggufStart(0, 2).str("k").u32(GgufValueType.UINT8).u8(0).str("k").u32(GgufValueType.UINT8).u8(1).build();
    expectKind(dup, "duplicate_key", /"k"/);
  });
  it("alignment: not a power of two, zero, wrong type; 64 is honoured", () => {
    for (const a of [0, 3, 48, 0x80000001]) {
      expectKind(ggufStart(0, 1).str("general.alignment").u32(GgufValueType.UINT32).u32(a).build(), "bad_value", /power of two/);
    }
    expectKind(ggufStart(0, 1).str("general.alignment").u32(GgufValueType.UINT64).u64(32).build(), "wrong_type", /u32/);
    const b = ggufStart(1, 1).str("general.alignment").u32(GgufValueType.UINT32).u32(64);
    tensorInfo(b, "t", [16], GgmlType.F32, 0);
    const headerEnd = b.length;
    const g = parseGguf(b.zeros(64 - (headerEnd % 64) + 64).build());
    expect(g.alignment).toBe(64);
    expect(g.dataOffset).toBe(Math.ceil(headerEnd / 64) * 64);
  });
});

describe("tensor infos", () => {
  const oneTensor = (dims: (bigint | number)[], type: number, offset: bigint | number = 0, name = "w"): Uint8Array =>
    withData(tensorInfo(ggufStart(1, 0), name, dims, type, offset), 4096);

  it("unknown type ids name the tensor and the id", () => {
    for (const id of [4, 5, 31, 36, 99, 0xffffffff]) expectKind(oneTensor([32], id), "bad_tensor", new RegExp(`"w".*id ${id}`));
  });
  it("known but unsupported types are not a reader error", () => {
    const g = parseGguf(oneTensor([256], 16 /* IQ2_XXS */));
    expect(g.tensors[0].size).toBe(66);
  });
  it("dimension counts", () => {
    expectKind(oneTensor([1, 1, 1, 1, 1], GgmlType.F32), "limit_exceeded", /5 dimensions/);
    expectKind(oneTensor([], GgmlType.F32), "bad_tensor", /0 dimensions/);
    expectKind(withData(ggufStart(1, 0).str("w").u32(0xffffffff), 0), "limit_exceeded");
  });
  it("dimension products that overflow", () => {
    expectKind(oneTensor([2n ** 40n, 2n ** 40n], GgmlType.F32), "bad_tensor", /elements/);
    expectKind(oneTensor([2n ** 63n], GgmlType.F32), "bad_tensor", /2\^53/);
    expectKind(oneTensor([2n ** 20n, 2n ** 20n, 2n ** 20n, 2n ** 20n], GgmlType.Q4_0), "bad_tensor");
    expectKind(oneTensor([2n ** 52n], GgmlType.F32), "bad_tensor", /bytes|beyond/);
  });
  it("rows that are not whole blocks", () => {
    expectKind(oneTensor([33, 2], GgmlType.Q4_0), "bad_tensor", /not a multiple of the block size 32/);
    expectKind(oneTensor([128], GgmlType.Q4_K), "bad_tensor", /256/);
  });
  it("misaligned, huge and out-of-file offsets", () => {
    expectKind(oneTensor([8], GgmlType.F32, 4), "bad_tensor", /not a multiple of the alignment 32/);
    expectKind(oneTensor([8], GgmlType.F32, 2n ** 63n), "bad_tensor", /2\^53/);
    expectKind(oneTensor([8], GgmlType.F32, 8192), "bad_tensor", /beyond the end/);
    expectKind(oneTensor([2048], GgmlType.F32, 0), "bad_tensor", /beyond the end/);
  });
  it("overlapping ranges, in either order", () => {
    const two = (o1: number, o2: number): Uint8Array => {
      const b = ggufStart(2, 0);
      tensorInfo(b, "a", [64], GgmlType.F32, o1);
      tensorInfo(b, "b", [64], GgmlType.F32, o2);
      return withData(b, 1024);
    };
    expectKind(two(0, 128), "bad_tensor", /"b".*overlaps tensor "a"/);
    expectKind(two(224, 96), "bad_tensor", /overlaps/);
    expect(parseGguf(two(256, 0)).tensors.map((t) => t.offset)).toEqual([256, 0]);
  });
  it("zero-element tensors may share an offset", () => {
    const b = ggufStart(2, 0);
    tensorInfo(b, "a", [0], GgmlType.F32, 0);
    tensorInfo(b, "b", [8], GgmlType.F32, 0);
    expect(parseGguf(withData(b, 32)).tensors[0].size).toBe(0);
  });
  it("duplicate and over-long names", () => {
    const b = ggufStart(2, 0);
    tensorInfo(b, "a", [8], GgmlType.F32, 0);
    tensorInfo(b, "a", [8], GgmlType.F32, 32);
    expectKind(withData(b, 64), "duplicate_tensor", /"a"/);
    expectKind(oneTensor([8], GgmlType.F32, 0, "x".repeat(64)), "limit_exceeded", /maxTensorNameBytes/);
    expect(parseGguf(oneTensor([8], GgmlType.F32, 0, "x".repeat(63))).tensors[0].name.length).toBe(63);
  });
});

describe("lowered limits", () => {
  it("are honoured", () => {
    const bytes = writeGguf({ metadata: [["k", { type: GgufValueType.STRING, value: "hello" }]], tensors: [] });
    expect(() => parseGguf(bytes, { limits: { maxStringBytes: 4 } })).toThrow(GgufError);
    expect(parseGguf(bytes, { limits: { maxStringBytes: 5 } }).getString("k")).toBe("hello");
  });
});
