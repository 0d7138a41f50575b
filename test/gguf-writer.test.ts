// The writer: read(write(x)) gives x back, and every fixture re-written from what the reader found
// is byte-for-byte the original file.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GgufError } from "../src/errors.js";
import {
  GgufValueType,
  ggufChunks,
  ggufLayout,
  parseGguf,
  writeGguf,
  type GgufTensorInput,
  type GgufValue,
} from "../src/gguf/index.js";
import { GgmlType } from "../src/quant/types.js";
import { prng } from "./helpers/bytes.js";
import { ggufFixtures, tensorsOf } from "./helpers/fixtures.js";

function randomBytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

const everyType: [string, GgufValue][] = [
  ["u8", { type: GgufValueType.UINT8, value: 255 }],
  ["i8", { type: GgufValueType.INT8, value: -128 }],
  ["u16", { type: GgufValueType.UINT16, value: 65535 }],
  ["i16", { type: GgufValueType.INT16, value: -32768 }],
  ["u32", { type: GgufValueType.UINT32, value: 4294967295 }],
  ["i32", { type: GgufValueType.INT32, value: -2147483648 }],
  ["f32", { type: GgufValueType.FLOAT32, value: Math.fround(0.1) }],
  ["f32.nan", { type: GgufValueType.FLOAT32, value: NaN }],
  ["f64", { type: GgufValueType.FLOAT64, value: 0.1 }],
  ["u64", { type: GgufValueType.UINT64, value: 2n ** 64n - 1n }],
  ["i64", { type: GgufValueType.INT64, value: -(2n ** 63n) }],
  ["bool.t", { type: GgufValueType.BOOL, value: true }],
  ["bool.f", { type: GgufValueType.BOOL, value: false }],
  ["str", { type: GgufValueType.STRING, value: "\ufeffhé 🦙 \u0000 end" }],
  ["str.empty", { type: GgufValueType.STRING, value: "" }],
  ["arr.u8", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT8, items: Uint8Array.of(0, 1, 255) } }],
  ["arr.i8", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT8, items: Int8Array.of(-1, 2) } }],
  ["arr.u16", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT16, items: Uint16Array.of(1, 65535) } }],
  ["arr.i16", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT16, items: Int16Array.of(-3) } }],
  ["arr.u32", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT32, items: Uint32Array.of(4000000000) } }],
  ["arr.i32", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, items: Int32Array.of(-5, 6, 7) } }],
  ["arr.f32", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.FLOAT32, items: Float32Array.of(1.5, -0, Infinity) } }],
  ["arr.f64", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.FLOAT64, items: Float64Array.of(Math.PI) } }],
  ["arr.u64", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT64, items: BigUint64Array.of(2n ** 64n - 1n) } }],
  ["arr.i64", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT64, items: BigInt64Array.of(-1n) } }],
  ["arr.bool", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.BOOL, items: Uint8Array.of(1, 0, 1) } }],
  ["arr.str", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, items: ["a", "", "ü"] } }],
  ["arr.empty", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.FLOAT32, items: new Float32Array(0) } }],
  [
    "arr.arr",
    {
      type: GgufValueType.ARRAY,
      value: {
        itemType: GgufValueType.ARRAY,
        items: [
          { itemType: GgufValueType.INT32, items: Int32Array.of(1, 2) },
          { itemType: GgufValueType.STRING, items: ["x"] },
          { itemType: GgufValueType.ARRAY, items: [{ itemType: GgufValueType.UINT8, items: new Uint8Array(0) }] },
        ],
      },
    },
  ],
];

describe("round trip", () => {
  const tensors: GgufTensorInput[] = [
    { name: "a", type: GgmlType.F32, dims: [3], data: randomBytes(12, 1) },
    { name: "b.q4", type: GgmlType.Q4_0, dims: [64, 3], data: randomBytes(6 * 18, 2) },
    { name: "c.q6k", type: GgmlType.Q6_K, dims: [256, 2, 1, 1], data: randomBytes(2 * 210, 3) },
    { name: "d.empty", type: GgmlType.F16, dims: [0, 4], data: new Uint8Array(0) },
  ];

  it("read(write(x)) deep-equals x, every value type included", () => {
    const bytes = writeGguf({ metadata: new Map(everyType), tensors });
    const g = parseGguf(bytes);
    expect(g.version).toBe(3);
    expect(g.alignment).toBe(32);
    expect([...g.metadata]).toEqual(everyType);
    expect(g.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims }))).toEqual(
      tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims })),
    );
    for (const t of tensors) {
      const info = g.tensor(t.name);
      expect(info?.offset ?? -1).toBeGreaterThanOrEqual(0);
      if (info) expect(bytes.subarray(g.dataOffset + info.offset, g.dataOffset + info.offset + info.size)).toEqual(t.data);
    }
    expect(bytes.length % 32).toBe(0);
  });

  it("ggufChunks concatenates to writeGguf, with lazily produced data", () => {
    const whole = writeGguf({ metadata: everyType, tensors });
    let calls = 0;
    const lazy = tensors.map((t) => ({ ...t, data: () => (calls++, t.data as Uint8Array) }));
    const chunks = [...ggufChunks({ metadata: everyType, tensors: lazy })];
    expect(calls).toBe(tensors.length);
    const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      joined.set(c, at);
      at += c.length;
    }
    expect(joined).toEqual(whole);
  });

  it("ggufLayout gives the offsets the reader finds, without any tensor data", () => {
    const layout = ggufLayout({ metadata: [], tensors: tensors.map(({ name, type, dims }) => ({ name, type, dims })) });
    const g = parseGguf(writeGguf({ metadata: [], tensors }));
    expect(layout.dataOffset).toBe(g.dataOffset);
    expect(layout.header.length).toBe(g.dataOffset);
    expect(layout.tensors).toEqual(g.tensors);
    expect(layout.fileSize).toBe(g.dataOffset + 32 + 128 + 448);
  });

  it("a non-default alignment is written as general.alignment", () => {
    const bytes = writeGguf({ alignment: 256, metadata: [], tensors });
    const g = parseGguf(bytes);
    expect(g.alignment).toBe(256);
    expect(g.getU32("general.alignment")).toBe(256);
    expect(g.dataOffset % 256).toBe(0);
    expect(g.tensors.every((t) => t.offset % 256 === 0)).toBe(true);
  });

  it("version 2 can be written", () => {
    expect(parseGguf(writeGguf({ version: 2, metadata: [], tensors: [] })).version).toBe(2);
  });
});

describe("every fixture re-written is byte-for-byte identical", () => {
  for (const [file, path] of ggufFixtures()) {
    it(file, () => {
      const original = new Uint8Array(readFileSync(path));
      const g = parseGguf(original);
      // Vocab-only fixtures come both padded to the alignment and not.
      const padEmptyData = original.length !== g.headerSize;
      const rewritten = writeGguf({ version: 3, metadata: g.metadata, tensors: tensorsOf(g, original), padEmptyData });
      expect(rewritten.length).toBe(original.length);
      expect(Buffer.compare(rewritten, original)).toBe(0);
    });
  }
});

describe("the writer refuses what the reader would refuse", () => {
  const ok = { name: "t", type: GgmlType.F32, dims: [4], data: new Uint8Array(16) };
  const fails = (spec: Parameters<typeof writeGguf>[0], kind: string, message?: RegExp): void => {
    let err: unknown;
    try {
      writeGguf(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GgufError);
    if (err instanceof GgufError) {
      expect(err.kind).toBe(kind);
      if (message) expect(err.message).toMatch(message);
    }
  };
  it("tensors", () => {
    fails({ metadata: [], tensors: [{ ...ok, data: new Uint8Array(15) }] }, "bad_tensor", /15 bytes/);
    fails({ metadata: [], tensors: [{ ...ok, type: 4 }] }, "bad_tensor", /unknown ggml type id 4/);
    fails({ metadata: [], tensors: [{ ...ok, dims: [] }] }, "bad_tensor");
    fails({ metadata: [], tensors: [{ ...ok, dims: [1, 1, 1, 1, 4] }] }, "bad_tensor");
    fails({ metadata: [], tensors: [{ ...ok, type: GgmlType.Q8_0 }] }, "bad_tensor", /whole blocks/);
    fails({ metadata: [], tensors: [ok, ok] }, "duplicate_tensor");
    fails({ metadata: [], tensors: [{ ...ok, name: "n".repeat(64) }] }, "limit_exceeded");
  });
  it("metadata", () => {
    fails({ metadata: [["k", { type: GgufValueType.UINT8, value: 256 }]], tensors: [] }, "bad_value", /"k"/);
    fails({ metadata: [["k", { type: GgufValueType.UINT32, value: -1 }]], tensors: [] }, "bad_value");
    fails({ metadata: [["k", { type: GgufValueType.INT32, value: 1.5 }]], tensors: [] }, "bad_value");
    fails({ metadata: [["k", { type: GgufValueType.UINT64, value: -1n }]], tensors: [] }, "bad_value");
    fails(
      { metadata: [["k", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT8, items: Int16Array.of(300) } }]], tensors: [] },
      "bad_value",
      /k\[0\]/,
    );
    fails({ metadata: [["k", { type: GgufValueType.BOOL, value: true }], ["k", { type: GgufValueType.BOOL, value: true }]], tensors: [] }, "duplicate_key");
    fails({ metadata: [["", { type: GgufValueType.BOOL, value: true }]], tensors: [] }, "bad_value");
  });
  it("alignment", () => {
    fails({ alignment: 48, metadata: [], tensors: [] }, "bad_value");
    fails({ alignment: 64, metadata: [["general.alignment", { type: GgufValueType.UINT32, value: 32 }]], tensors: [] }, "bad_value", /contradicts/);
    fails({ metadata: [["general.alignment", { type: GgufValueType.INT32, value: 32 }]], tensors: [] }, "wrong_type");
  });
});
