// matmul (prompt batches, the GEMM tiles of assembly/quant/gemm_*.ts) against matvec, column by
// column, in every kernel build this engine runs: the outputs must be the same f32 bits, because
// the parity with llama.cpp (test/parity.test.ts) rests on each kernel summing in ggml's order and
// prefill goes through matmul while decode goes through matvec. Random matrices with random scales
// (sign, magnitude, f16 subnormals), random activations; row ranges and column counts chosen to
// leave every tile remainder. matvec itself is checked against its scalar twin and an f64 reference
// in test/quant.test.ts; here matmul is also checked against matvec_scalar within the f32 rounding.
import { describe, expect, it } from "vitest";
import { createEngine, type SimdFlavour } from "../src/wasm/engine.js";
import { supportedFlavours } from "../src/wasm/features.js";
import { GgmlType, ggmlTypeByName } from "../src/quant/types.js";

const flavours: SimdFlavour[] = supportedFlavours();

/** Byte offsets of the f16 scale fields in one block, and where a Q8_0 quant byte may sit. */
const LAYOUT: Record<string, { scales: number[]; q8Bytes?: [number, number] }> = {
  Q8_0: { scales: [0], q8Bytes: [2, 34] },
  Q4_0: { scales: [0] },
  Q5_0: { scales: [0] },
  Q4_K: { scales: [0, 2] },
  Q5_K: { scales: [0, 2] },
  Q6_K: { scales: [208] },
};
const FORMATS = Object.keys(LAYOUT) as (keyof typeof GgmlType)[];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** An f16 bit pattern: either sign, exponents 2^-24 (subnormal) … 2^-2, random mantissa. */
function randomF16(r: () => number): number {
  const sign = r() < 0.5 ? 0x8000 : 0;
  const exp = r() < 0.1 ? 0 : 1 + Math.floor(r() * 13);
  return sign | (exp << 10) | Math.floor(r() * 1024);
}

/** rows × n weights of `name`: random bytes, every f16 scale finite, Q8_0 quants never -128. */
function randomWeights(name: string, rows: number, n: number, seed: number): Uint8Array {
  const info = ggmlTypeByName(name)!;
  const r = rng(seed);
  const blocks = (rows * n) / info.blockElements;
  const out = new Uint8Array(blocks * info.blockBytes);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * 256);
  const { scales, q8Bytes } = LAYOUT[name];
  for (let b = 0; b < blocks; b++) {
    const o = b * info.blockBytes;
    for (const f of scales) {
      const h = randomF16(r);
      out[o + f] = h & 0xff;
      out[o + f + 1] = h >> 8;
    }
    if (q8Bytes) for (let j = o + q8Bytes[0]; j < o + q8Bytes[1]; j++) if (out[j] === 0x80) out[j] = 0x81;
  }
  return out;
}

/** Activations mostly in ±1 with an outlier every 16 elements, and one all-zero column (d = 0). */
function randomX(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  if (seed % 13 === 5) return x;
  const r = rng(seed);
  for (let i = 0; i < n; i++) x[i] = (r() * 2 - 1) * (i % 16 === 7 ? 9 : 1);
  return x;
}

// Each build with the kernel flags off and on (assembly/layout.ts KERNEL_FLAGS: 1 = the Q4_0 and Q8_0
// tiles' dot-add forms, which the engine turns on where relaxed_dot_i8x16_i7x16_add_s is one AVX-VNNI
// instruction): both forms compute the same integers on any CPU, only their speed differs.
const flagCases: [SimdFlavour, number][] = flavours.flatMap((f): [SimdFlavour, number][] => (f === "simd" ? [[f, 0]] : [[f, 0], [f, 1]]));

describe.each(flagCases)("matmul = matvec bit for bit (%s, kernel flags %i)", (flavour, flags) => {
  const e = createEngine({ simd: flavour });
  const k = e.kernels;
  k.set_kernel_flags(flags);

  describe.each(FORMATS)("%s", (name) => {
    const type = GgmlType[name];
    const info = ggmlTypeByName(name)!;
    const n = info.blockElements === 256 ? 512 : 160; // 2 super-blocks / 5 blocks per row
    const rows = 13;
    const rowBytes = (n / info.blockElements) * info.blockBytes;

    // Row ranges: the four-row tiles (dispatch.ts rows4) run from row0 in steps of four and leave
    // 0-3 rows to the one-row path; their columns go in groups of eight (TILE_COLS), unrolled by two.
    it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 16, 17, 64])("%i columns, rows [1, 12), [0, 13), [2, 11), [3, 7), [5, 6)", (ncols) => {
      const mark = k.arena_mark();
      const wBytes = randomWeights(name, rows, n, 1000 + ncols);
      const w = e.alloc(wBytes.length + 16, "W");
      e.u8().set(wBytes, w);
      const actBytes = k.act_bytes(type, n);
      const xqStride = Math.ceil(actBytes / 16) * 16 + 48; // not a multiple of 64: any stride works
      const xq = e.alloc(xqStride * ncols, "X");
      const x = e.alloc(n * 4, "x");
      for (let c = 0; c < ncols; c++) {
        e.f32().set(randomX(n, 77 * ncols + c), x / 4);
        k.quantize_act(type, x, xq + c * xqStride, n);
      }
      const yStride = rows + 5;
      const y = e.alloc(yStride * ncols * 4, "Y");
      const yv = e.alloc(rows * 4, "y matvec");
      const ys = e.alloc(rows * 4, "y scalar");
      for (const [row0, row1] of [[1, rows - 1], [0, rows], [2, 11], [3, 7], [5, 6]]) {
        e.f32().fill(-7, y / 4, y / 4 + yStride * ncols);
        k.matmul(type, w, rowBytes, xq, xqStride, y, yStride, n, row0, row1, ncols);
        const bits = new Uint32Array(e.memory.buffer);
        const f = e.f32();
        let mismatches = 0;
        let worstScalar = 0;
        for (let c = 0; c < ncols; c++) {
          k.matvec(type, w, rowBytes, xq + c * xqStride, yv, n, row0, row1);
          k.matvec_scalar(type, w, rowBytes, xq + c * xqStride, ys, n, row0, row1);
          let scale = 0;
          for (let r = row0; r < row1; r++) scale = Math.max(scale, Math.abs(f[ys / 4 + r]));
          for (let r = 0; r < yStride; r++) {
            const got = y / 4 + c * yStride + r;
            if (r < row0 || r >= row1) {
              expect(f[got], `column ${c} row ${r} is outside [${row0}, ${row1})`).toBe(-7);
              continue;
            }
            if (bits[got] !== bits[yv / 4 + r]) mismatches++;
            worstScalar = Math.max(worstScalar, Math.abs(f[got] - f[ys / 4 + r]) / Math.max(scale, 1e-30));
          }
          // a real dot product, not all zeros (the all-zero column aside)
          if ((77 * ncols + c) % 13 !== 5) expect(scale).toBeGreaterThan(0);
        }
        expect(mismatches, `rows [${row0}, ${row1})`).toBe(0);
        // the same integers, f32 sums in another order: a few ulps of the largest output
        expect(worstScalar).toBeLessThan(1e-5);
      }
      k.arena_release(mark);
    });
  });
});

// matvec's multi-row passes (q4_0.ts matvec4_q4_0: four rows a quarter of the range apart, in both forms;
// q8_0.ts matvec2_q8_0: two rows half the range apart) against
// the same rows one call each (a one-row range always takes the single-row dot_<fmt>): the same bits,
// nothing written outside the range, for range lengths that leave every remainder.
describe.each(flagCases)("matvec over a row range = matvec row by row, bit for bit (%s, kernel flags %i)", (flavour, flags) => {
  const e = createEngine({ simd: flavour });
  const k = e.kernels;
  k.set_kernel_flags(flags); // 1: matvec4_q4_0's dot-add form (relaxed builds)
  describe.each(FORMATS)("%s", (name) => {
    const type = GgmlType[name];
    const info = ggmlTypeByName(name)!;
    const n = info.blockElements === 256 ? 512 : 160;
    const rows = 41;
    const rowBytes = (n / info.blockElements) * info.blockBytes;
    it.each([[0, 41], [3, 34], [5, 12], [7, 10], [2, 3]])("rows [%i, %i)", (row0, row1) => {
      const mark = k.arena_mark();
      const wBytes = randomWeights(name, rows, n, 500 + row0 * 7 + row1);
      const w = e.alloc(wBytes.length + 16, "W");
      e.u8().set(wBytes, w);
      const xq = e.alloc(k.act_bytes(type, n), "X");
      const x = e.alloc(n * 4, "x");
      e.f32().set(randomX(n, 11 + row1), x / 4);
      k.quantize_act(type, x, xq, n);
      const y = e.alloc(rows * 4, "y range");
      const y1 = e.alloc(rows * 4, "y row by row");
      e.f32().fill(-7, y / 4, y / 4 + rows);
      k.matvec(type, w, rowBytes, xq, y, n, row0, row1);
      for (let r = row0; r < row1; r++) k.matvec(type, w, rowBytes, xq, y1, n, r, r + 1);
      const bits = new Uint32Array(e.memory.buffer);
      const f = e.f32();
      for (let r = 0; r < rows; r++) {
        if (r < row0 || r >= row1) expect(f[y / 4 + r], `row ${r} is outside the range`).toBe(-7);
        else expect(bits[y / 4 + r], `row ${r}`).toBe(bits[y1 / 4 + r]);
      }
      k.arena_release(mark);
    });
  });
});
