// The shape of a parsed GGUF file: what src/gguf/reader.ts produces and src/gguf/writer.ts consumes.

/** GGUF metadata value types (gguf_type in ggml's gguf.h). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueTypeId = (typeof GgufValueType)[keyof typeof GgufValueType];

/**
 * An array value. Numeric arrays are typed arrays (64-bit integers as BigInt64Array/BigUint64Array),
 * bools a Uint8Array of 0/1, strings a string[], arrays of arrays a GgufArray[].
 */
export interface GgufArray {
  readonly itemType: GgufValueTypeId;
  readonly items:
    | Uint8Array
    | Int8Array
    | Uint16Array
    | Int16Array
    | Uint32Array
    | Int32Array
    | Float32Array
    | Float64Array
    | BigUint64Array
    | BigInt64Array
    | string[]
    | GgufArray[];
}

/** One metadata value with its GGUF type; 64-bit integers are bigint. */
export type GgufValue =
  | { readonly type: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 12; readonly value: number }
  | { readonly type: 10 | 11; readonly value: bigint }
  | { readonly type: 7; readonly value: boolean }
  | { readonly type: 8; readonly value: string }
  | { readonly type: 9; readonly value: GgufArray };

/** One tensor's entry in the tensor-info table. */
export interface GgufTensorInfo {
  readonly name: string;
  /** ggml type id (see src/quant/types.ts). */
  readonly type: number;
  /** Dimensions, fastest-varying first (ggml's ne). */
  readonly dims: readonly number[];
  /** Byte offset from the start of the tensor data section. */
  readonly offset: number;
  /** Byte size of the tensor's data. */
  readonly size: number;
}
