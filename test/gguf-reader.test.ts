// The reader against the reference headers (what gguf-py finds in each fixture), and the accessors.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GgufError } from "../src/errors.js";
import { GgufValueType, parseGguf, writeGguf, type GgufArray, type GgufValue } from "../src/gguf/index.js";
import { ggmlType } from "../src/quant/types.js";
import { fixturePath, ggufFixtures } from "./helpers/fixtures.js";

const TYPE_NAMES = ["UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"];

interface HeaderJson {
  version: number;
  alignment: number;
  data_offset: number;
  metadata: Record<string, { type: string; value?: unknown; item_type?: string; length?: number; first?: unknown[] }>;
  tensors: { name: string; type: string; ne: number[]; offset_in_data: number; n_bytes: number }[];
}

/** One expected scalar against the parsed one: f32 compared after rounding the reference to float32. */
function expectScalar(typeName: string, actual: unknown, expected: unknown, where: string): void {
  if (typeName === "FLOAT32") {
    expect(actual, where).toBe(Math.fround(Number(expected)));
  } else if (typeName === "UINT64" || typeName === "INT64") {
    expect(actual, where).toBe(BigInt(expected as string | number));
  } else {
    expect(actual, where).toBe(expected);
  }
}

function expectArray(arr: GgufArray, exp: { item_type?: string; length?: number; first?: unknown[] }, where: string): void {
  expect(TYPE_NAMES[arr.itemType], where).toBe(exp.item_type);
  expect(arr.items.length, where).toBe(exp.length);
  const first = exp.first ?? [];
  expect(Math.min(8, arr.items.length), where).toBe(first.length);
  for (let i = 0; i < first.length; i++) {
    const item = arr.items[i];
    const actual = arr.itemType === GgufValueType.BOOL ? item === 1 : item;
    expectScalar(exp.item_type ?? "", actual, first[i], `${where}[${i}]`);
  }
}

describe("parseGguf on every fixture matches headers/<file>.json", () => {
  for (const [file, path] of ggufFixtures()) {
    it(file, () => {
      const ref = JSON.parse(readFileSync(fixturePath("headers", file.replace(/\.gguf$/, ".json")), "utf8")) as HeaderJson;
      const g = parseGguf(readFileSync(path));
      expect(g.version).toBe(ref.version);
      expect(g.alignment).toBe(ref.alignment);
      expect(g.dataOffset).toBe(ref.data_offset);
      expect([...g.metadata.keys()]).toEqual(Object.keys(ref.metadata));
      for (const [key, exp] of Object.entries(ref.metadata)) {
        const v = g.metadata.get(key) as GgufValue;
        expect(TYPE_NAMES[v.type], key).toBe(exp.type);
        if (v.type === GgufValueType.ARRAY) expectArray(v.value, exp, key);
        else expectScalar(exp.type, v.value, exp.value, key);
      }
      expect(g.tensors.length).toBe(ref.tensors.length);
      ref.tensors.forEach((t, i) => {
        const a = g.tensors[i];
        expect(a.name).toBe(t.name);
        expect(ggmlType(a.type)?.name, t.name).toBe(t.type);
        expect(a.dims, t.name).toEqual(t.ne);
        expect(a.offset, t.name).toBe(t.offset_in_data);
        expect(a.size, t.name).toBe(t.n_bytes);
        expect(g.tensor(t.name)).toBe(a);
      });
    });
  }
});

describe("typed accessors", () => {
  const u32 = (value: number): GgufValue => ({ type: GgufValueType.UINT32, value });
  const bytes = writeGguf({
    metadata: [
      ["u32", u32(7)],
      ["i32.neg", { type: GgufValueType.INT32, value: -3 }],
      ["i32.pos", { type: GgufValueType.INT32, value: 12 }],
      ["u64.small", { type: GgufValueType.UINT64, value: 4096n }],
      ["u64.big", { type: GgufValueType.UINT64, value: 2n ** 40n }],
      ["u8", { type: GgufValueType.UINT8, value: 200 }],
      ["i64.neg", { type: GgufValueType.INT64, value: -5n }],
      ["u32.max", u32(0xffffffff)],
      ["f32", { type: GgufValueType.FLOAT32, value: Math.fround(1e-5) }],
      ["f64", { type: GgufValueType.FLOAT64, value: 1e6 }],
      ["bool", { type: GgufValueType.BOOL, value: true }],
      ["str", { type: GgufValueType.STRING, value: "llama" }],
      ["arr.str", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, items: ["a", "b"] } }],
      ["arr.f32", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.FLOAT32, items: Float32Array.of(0.5, -1) } }],
      ["arr.i32", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, items: Int32Array.of(1, -2) } }],
      ["arr.u32", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT32, items: Uint32Array.of(1, 2) } }],
      ["arr.u32.big", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT32, items: Uint32Array.of(0x80000000) } }],
      ["arr.i64", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT64, items: BigInt64Array.of(-7n, 8n) } }],
      ["arr.bool", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.BOOL, items: Uint8Array.of(1) } }],
    ],
    tensors: [],
  });
  const g = parseGguf(bytes);
  const kindOf = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof GgufError) return `${e.kind}: ${e.message}`;
      throw e;
    }
    return "no error";
  };

  it("integers of any width that fit", () => {
    expect(g.getU32("u32")).toBe(7);
    expect(g.getU32("i32.pos")).toBe(12);
    expect(g.getU32("u64.small")).toBe(4096);
    expect(g.getU32("u8")).toBe(200);
    expect(g.getI32("i64.neg")).toBe(-5);
    expect(g.getI32("u32")).toBe(7);
    expect(g.getU64("u32.max")).toBe(0xffffffffn);
    expect(g.getU64("u64.big")).toBe(2n ** 40n);
    expect(g.getI64("i32.neg")).toBe(-3n);
  });

  it("values that do not fit, and wrong types, name the key and both types", () => {
    expect(kindOf(() => g.getU32("i32.neg"))).toMatch(/^wrong_type: .*"i32\.neg".*-3.*u32/);
    expect(kindOf(() => g.getU32("u64.big"))).toMatch(/^wrong_type: .*does not fit in u32/);
    expect(kindOf(() => g.getI32("u32.max"))).toMatch(/^wrong_type: .*i32/);
    expect(kindOf(() => g.getU64("i64.neg"))).toMatch(/^wrong_type/);
    expect(kindOf(() => g.getU32("str"))).toBe('wrong_type: metadata key "str" should be u32, found str');
    expect(kindOf(() => g.getString("u32"))).toBe('wrong_type: metadata key "u32" should be str, found u32');
    expect(kindOf(() => g.getF32("u32"))).toMatch(/^wrong_type/);
    expect(kindOf(() => g.getBool("u8"))).toMatch(/^wrong_type/);
    expect(kindOf(() => g.getStringArray("arr.f32"))).toBe('wrong_type: metadata key "arr.f32" should be arr[str], found arr[f32]');
    expect(kindOf(() => g.getF32Array("arr.i32"))).toMatch(/^wrong_type/);
    expect(kindOf(() => g.getI32Array("arr.f32"))).toMatch(/^wrong_type/);
    expect(kindOf(() => g.getI32Array("arr.u32.big"))).toMatch(/^wrong_type: .*item 0/);
    expect(kindOf(() => g.getI32Array("arr.bool"))).toMatch(/^wrong_type/);
    expect(kindOf(() => g.getArray("str"))).toMatch(/^wrong_type/);
  });

  it("floats, bools, strings and arrays", () => {
    expect(g.getF32("f32")).toBe(Math.fround(1e-5));
    expect(g.getF32("f64")).toBe(1e6);
    expect(g.getBool("bool")).toBe(true);
    expect(g.getString("str")).toBe("llama");
    expect(g.getStringArray("arr.str")).toEqual(["a", "b"]);
    expect(g.getF32Array("arr.f32")).toEqual(Float32Array.of(0.5, -1));
    expect(g.getI32Array("arr.i32")).toEqual(Int32Array.of(1, -2));
    expect(g.getI32Array("arr.u32")).toEqual(Int32Array.of(1, 2));
    expect(g.getI32Array("arr.i64")).toEqual(Int32Array.of(-7, 8));
    expect(g.getArray("arr.str").itemType).toBe(GgufValueType.STRING);
  });

  it("absent keys: missing_key without a fallback, the fallback with one", () => {
    expect(kindOf(() => g.getU32("nope"))).toBe('missing_key: metadata key "nope" is missing');
    expect(kindOf(() => g.getStringArray("nope"))).toMatch(/^missing_key/);
    expect(g.getU32("nope", 5)).toBe(5);
    expect(g.getU32("nope", undefined)).toBeUndefined();
    expect(g.getF32("nope", 1e4)).toBe(1e4);
    expect(g.getString("nope", null)).toBeNull();
    expect(g.getBool("nope", false)).toBe(false);
    expect(g.getF32Array("nope", undefined)).toBeUndefined();
    expect(g.getU32("u32", 5)).toBe(7);
    // A fallback does not excuse a wrong type.
    expect(kindOf(() => g.getU32("str", 0))).toMatch(/^wrong_type/);
  });

  it("on a real file", () => {
    const real = parseGguf(readFileSync(fixturePath("models", "stories260K-Q4_0.gguf")));
    expect(real.getString("general.architecture")).toBe("llama");
    expect(real.getU32("llama.block_count")).toBe(5);
    expect(real.getF32("llama.attention.layer_norm_rms_epsilon")).toBe(Math.fround(1e-5));
    expect(real.getStringArray("tokenizer.ggml.tokens").length).toBe(512);
    expect(real.getF32Array("tokenizer.ggml.scores").length).toBe(512);
    expect(real.getI32Array("tokenizer.ggml.token_type")[0]).toBe(2);
    expect(real.tensor("output.weight")?.size).toBe(18432);
    expect(real.tensor("nope")).toBeUndefined();
  });
});

describe("parseGguf on a prefix", () => {
  it("parses a header given only its prefix and the file size", () => {
    const whole = readFileSync(fixturePath("models", "stories260K-Q4_0.gguf"));
    const g = parseGguf(whole.subarray(0, 16384), { fileSize: whole.length });
    expect(g.tensors.length).toBe(48);
    expect(g.fileSize).toBe(whole.length);
    let err: unknown;
    try {
      parseGguf(whole.subarray(0, 4096), { fileSize: whole.length });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GgufError);
    expect((err as GgufError).kind).toBe("truncated");
  });
});
