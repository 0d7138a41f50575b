// One format registry: src/quant/types.ts's table is the single list of ggml types and their facts.
// Here the other places that must agree with it are held to it — the kernels' enum and dispatch
// switches in assembly/dispatch.ts (parsed from the source, and probed through the wasm for every
// id), and the benchmarks' random weights (bench/random-weights.ts, bench/kernels.ts), which are
// derived from the table. A new format is one table row plus its kernels and dispatch cases; this
// file says what is missing when one of them is not there.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { ALL_FORMATS } from "../bench/kernels.js";
import { randomMatrix } from "../bench/random-weights.js";
import { GGML_TYPES, GgmlType, ggmlType, rowBytes, type GgmlTypeId } from "../src/quant/types.js";
import { createEngine, type Engine, type SimdFlavour } from "../src/wasm/engine.js";
import { supportedFlavours } from "../src/wasm/features.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const supported = GGML_TYPES.filter((t) => t.supported);
const flavours: SimdFlavour[] = supportedFlavours();

// Compile-time: GgmlType's ids are the table's literals (tsc fails here if they widen to number).
const q4: 2 = GgmlType.Q4_0;
const ids: GgmlTypeId[] = [GgmlType.IQ4_XS, GgmlType.BF16];

describe("the table (src/quant/types.ts)", () => {
  it("names each id once, and GgmlType is the table by name", () => {
    expect(new Set(GGML_TYPES.map((t) => t.id)).size).toBe(GGML_TYPES.length);
    expect(new Set(GGML_TYPES.map((t) => t.name)).size).toBe(GGML_TYPES.length);
    expect(GgmlType).toEqual(Object.fromEntries(GGML_TYPES.map((t) => [t.name, t.id])));
    expect([q4, ...ids]).toEqual([2, 23, 30]);
    expect(() => ((GgmlType as Record<string, number>).Q4_0 = 3)).toThrow(TypeError);
  });

  it("gives every supported block format its f16 fields, inside the block", () => {
    for (const t of supported) {
      if (t.blockElements === 1) {
        expect(t.f16Fields, t.name).toBeUndefined();
        continue;
      }
      expect(t.f16Fields?.length, `${t.name} needs f16Fields`).toBeGreaterThan(0);
      for (const f of t.f16Fields ?? []) {
        expect(f, t.name).toBeGreaterThanOrEqual(0);
        expect(f + 2, t.name).toBeLessThanOrEqual(t.blockBytes);
      }
    }
  });
});

describe("assembly/dispatch.ts agrees with the table", () => {
  it("its `const enum T` is exactly the supported types, by name and id", () => {
    const src = readFileSync(join(ROOT, "assembly/dispatch.ts"), "utf8");
    const body = /const enum T \{([^}]*)\}/.exec(src)?.[1];
    if (body === undefined) throw new Error("assembly/dispatch.ts: no `const enum T { … }` to check");
    const members = [...body.matchAll(/^\s*(\w+)\s*=\s*(\d+)\s*,?\s*$/gm)].map((m) => [m[1], Number(m[2])]);
    // Every line of the body that is not blank is a member this parser read.
    expect(members).toHaveLength(body.split("\n").filter((l) => l.trim() !== "").length);
    expect(Object.fromEntries(members)).toEqual(Object.fromEntries(supported.map((t) => [t.name, t.id])));
  });

  describe.each(flavours)("through the wasm (%s)", (flavour) => {
    let e: Engine;
    beforeAll(() => {
      e = createEngine({ simd: flavour });
    });

    it("act_bytes answers for exactly the supported ids (0–63), the same size for the same dotWith", () => {
      const n = 256;
      const bySize = new Map<string, number>();
      for (let id = 0; id < 64; id++) {
        const info = ggmlType(id);
        const bytes = e.kernels.act_bytes(id, n);
        if (!info?.supported) {
          expect(bytes, `id ${id} (${info?.name ?? "no type"})`).toBe(-1);
          continue;
        }
        expect(bytes, info.name).toBeGreaterThan(0);
        const key = info.dotWith ?? "";
        if (!bySize.has(key)) bySize.set(key, bytes);
        expect(bytes, `${info.name} quantizes x as ${key}`).toBe(bySize.get(key));
      }
      expect([...bySize.keys()].sort()).toEqual(["BF16", "F16", "F32", "Q8_0", "Q8_K"]);
    });

    // Also the check that the bench's weights are what they claim: a wrong f16Fields offset leaves
    // random f16 bits as scales (Inf, NaN, up to 65504), far outside ±64.
    it.each(supported.map((t) => [t.name, t.id] as const))(
      "%s: bench's random weights dequantize to finite values within ±64; matvec = matvec_scalar",
      (name, id) => {
        const info = ggmlType(id)!;
        const [rows, cols] = [64, 256];
        const k = e.kernels;
        const mark = k.arena_mark();
        try {
          const bytes = rowBytes(info, cols);
          const w = e.alloc(rows * bytes, "w");
          randomMatrix(id, rows, cols, 7, e.u8().subarray(w, w + rows * bytes));
          const row = e.alloc(cols * 4, "row");
          let max = 0;
          let nonFinite = 0;
          for (let r = 0; r < rows; r++) {
            e.f32().fill(Number.NaN, row / 4, row / 4 + cols);
            k.dequant_row(id, w + r * bytes, row, cols);
            for (const v of e.f32().subarray(row / 4, row / 4 + cols)) {
              if (Number.isFinite(v)) max = Math.max(max, Math.abs(v));
              else nonFinite++;
            }
          }
          expect(nonFinite).toBe(0);
          expect(max).toBeGreaterThan(0);
          expect(max).toBeLessThan(64);

          const x = e.alloc(cols * 4, "x");
          for (let i = 0; i < cols; i++) e.f32()[x / 4 + i] = Math.sin(i) * 0.5;
          const xq = e.alloc(k.act_bytes(id, cols), "xq");
          k.quantize_act(id, x, xq, cols);
          const [y, yRef] = [e.alloc(rows * 4, "y"), e.alloc(rows * 4, "yRef")];
          e.f32().fill(Number.NaN, y / 4, y / 4 + rows);
          k.matvec(id, w, bytes, xq, y, cols, 0, rows);
          k.matvec_scalar(id, w, bytes, xq, yRef, cols, 0, rows);
          const got = Array.from(e.f32().subarray(y / 4, y / 4 + rows));
          const want = Array.from(e.f32().subarray(yRef / 4, yRef / 4 + rows));
          const scale = Math.max(...want.map(Math.abs));
          expect(scale).toBeGreaterThan(0);
          // Same integer block sums, f32 additions in another order (bench/kernels.ts's bound).
          for (let r = 0; r < rows; r++) expect(Math.abs(got[r] - want[r]), `${name} row ${r}`).toBeLessThanOrEqual(1e-4 * scale);
        } finally {
          k.arena_release(mark);
        }
      },
    );
  });
});

describe("bench/ takes its formats from the table", () => {
  it("woolly-bench kernels offers exactly the supported types", () => {
    expect(ALL_FORMATS).toEqual(supported.map((t) => t.name));
  });
});
