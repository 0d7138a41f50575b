// assembly/dispatch.ts: the generic quantized-kernel entry points (see assembly/README.md).
// `type` is ggml's type id (GgmlType in src/quant/types.ts); pointers are byte offsets into the
// one memory; n counts elements of a row; row0..row1 is a half-open row range; strides of the
// activation columns are in bytes (xqStride) and of the output in f32 elements (yStride).
// An unsupported type writes nothing; act_bytes returns -1 for it.
export interface QuantExports {
  /** Bytes of one activation column of n elements for weights of `type` (-1: unsupported). */
  act_bytes(type: number, n: number): number;
  /** f32 x[n] → the companion activation format of `type` at xq (SIMD). */
  quantize_act(type: number, x: number, xq: number, n: number): void;
  /** The scalar twin of quantize_act: the same bytes. */
  quantize_act_scalar(type: number, x: number, xq: number, n: number): void;
  /** One row of n elements of `type` at src → f32 at dst. */
  dequant_row(type: number, src: number, dst: number, n: number): void;
  /** y[r] = W[r]·x for r in [row0, row1); W row r at w + r·rowBytes. */
  matvec(type: number, w: number, rowBytes: number, xq: number, y: number, n: number, row0: number, row1: number): void;
  /** The scalar twin of matvec: the same integer block sums, f32 sums in another order. */
  matvec_scalar(type: number, w: number, rowBytes: number, xq: number, y: number, n: number, row0: number, row1: number): void;
  /** y[c·yStride + r] = W[r]·X[c] for c < ncols, r in [row0, row1); X[c] at xq + c·xqStride. */
  matmul(
    type: number, w: number, rowBytes: number, xq: number, xqStride: number, y: number, yStride: number,
    n: number, row0: number, row1: number, ncols: number,
  ): void;
  /**
   * Set this memory's kernel flags (assembly/layout.ts KERNEL_FLAGS; 1 = FLAG_DOT_ADD: the Q4_0/Q8_0 tiles and Q4_0 matvec
   * sum with relaxed_dot_i8x16_i7x16_add_s). The engine sets them from detectFeatures(); results never change.
   */
  set_kernel_flags(flags: number): void;
  /** This memory's kernel flags. */
  kernel_flags(): number;
}

export const QUANT_EXPORT_NAMES = [
  "act_bytes", "quantize_act", "quantize_act_scalar", "dequant_row", "matvec", "matvec_scalar", "matmul",
  "set_kernel_flags", "kernel_flags",
] satisfies (keyof QuantExports)[];
