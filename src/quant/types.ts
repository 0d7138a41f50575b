// One row per ggml tensor type: the single table every other part of Woolly reads (GGUF reader,
// weight placement, kernels dispatch, error messages). Ids are ggml's `enum ggml_type`; sizes are
// ggml's `type_traits[].blck_size` / `type_size`. Types Woolly does not compute are listed too, so
// an error can name them ("… is IQ2_XXS, which Woolly does not support").
//
// `dotWith` is the activation format the fused dot product quantizes x to (ggml's vec_dot_type):
// Q8_0 for 32-element blocks, Q8_K for 256-element super-blocks, F16/BF16/F32 for float weights.

export interface GgmlTypeInfo {
  readonly id: number;
  readonly name: string;
  /** Elements per block (1 for plain scalars). */
  readonly blockElements: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  /** Woolly can dequantize and multiply this type. */
  readonly supported: boolean;
  /** Activation format of the fused dot product (only for supported types). */
  readonly dotWith?: "F32" | "F16" | "BF16" | "Q8_0" | "Q8_K";
  /**
   * Byte offsets in a block of its f16 fields (the scale d, and dmin/m where the format has one), per
   * ggml-common.h; for supported block formats. What a block's value range hangs on: the benchmarks'
   * random weights set these to small finite values and leave every other byte random.
   */
  readonly f16Fields?: readonly number[];
}

/** A row; `const` keeps each id and name literal, so GgmlType below is typed from the table. */
function T<const I extends number, const N extends string>(
  id: I,
  name: N,
  blockElements: number,
  blockBytes: number,
  dotWith?: GgmlTypeInfo["dotWith"],
  f16Fields?: readonly number[],
): GgmlTypeInfo & { readonly id: I; readonly name: N } {
  return { id, name, blockElements, blockBytes, supported: dotWith !== undefined, dotWith, f16Fields };
}

/**
 * Every ggml type id that can appear in a GGUF file (ids 4, 5 and 31–33, 36–38 were removed from ggml).
 * A new format is one row here (with `dotWith` and `f16Fields` once Woolly computes it) plus its
 * kernels and a `case` in assembly/dispatch.ts; test/formats.test.ts checks the two agree.
 */
const TABLE = [
  T(0, "F32", 1, 4, "F32"),
  T(1, "F16", 1, 2, "F16"),
  T(2, "Q4_0", 32, 18, "Q8_0", [0]),
  T(3, "Q4_1", 32, 20, "Q8_0", [0, 2]),
  T(6, "Q5_0", 32, 22, "Q8_0", [0]),
  T(7, "Q5_1", 32, 24, "Q8_0", [0, 2]),
  T(8, "Q8_0", 32, 34, "Q8_0", [0]),
  T(9, "Q8_1", 32, 36),
  T(10, "Q2_K", 256, 84, "Q8_K", [80, 82]),
  T(11, "Q3_K", 256, 110, "Q8_K", [108]),
  T(12, "Q4_K", 256, 144, "Q8_K", [0, 2]),
  T(13, "Q5_K", 256, 176, "Q8_K", [0, 2]),
  T(14, "Q6_K", 256, 210, "Q8_K", [208]),
  T(15, "Q8_K", 256, 292),
  T(16, "IQ2_XXS", 256, 66),
  T(17, "IQ2_XS", 256, 74),
  T(18, "IQ3_XXS", 256, 98),
  T(19, "IQ1_S", 256, 50),
  T(20, "IQ4_NL", 32, 18, "Q8_0", [0]),
  T(21, "IQ3_S", 256, 110),
  T(22, "IQ2_S", 256, 82),
  T(23, "IQ4_XS", 256, 136, "Q8_K", [0]),
  T(24, "I8", 1, 1),
  T(25, "I16", 1, 2),
  T(26, "I32", 1, 4),
  T(27, "I64", 1, 8),
  T(28, "F64", 1, 8),
  T(29, "IQ1_M", 256, 56),
  T(30, "BF16", 1, 2, "BF16"),
  T(34, "TQ1_0", 256, 54),
  T(35, "TQ2_0", 256, 66),
  T(39, "MXFP4", 32, 17),
  // Added to ggml after MXFP4 (block_nvfp4, block_q1_0, block_q2_0 in ggml-common.h).
  T(40, "NVFP4", 64, 36),
  T(41, "Q1_0", 128, 18),
  T(42, "Q2_0", 64, 18),
] as const;

export const GGML_TYPES: readonly GgmlTypeInfo[] = TABLE;

type Row = (typeof TABLE)[number];
/** Named ids of every ggml type, for code that switches on them (no magic numbers). */
export const GgmlType = Object.freeze(Object.fromEntries(TABLE.map((t) => [t.name, t.id]))) as {
  readonly [R in Row as R["name"]]: R["id"];
};
export type GgmlTypeId = Row["id"];

const byId = new Map(GGML_TYPES.map((t) => [t.id, t]));
const byName = new Map(GGML_TYPES.map((t) => [t.name, t]));

/** The row for a type id, or undefined for an id ggml never had (or removed). */
export function ggmlType(id: number): GgmlTypeInfo | undefined {
  return byId.get(id);
}

export function ggmlTypeByName(name: string): GgmlTypeInfo | undefined {
  return byName.get(name.toUpperCase());
}

/** Bytes of a row of `n` elements; n must be a multiple of the block size (checked by callers). */
export function rowBytes(info: GgmlTypeInfo, n: number): number {
  return (n / info.blockElements) * info.blockBytes;
}
