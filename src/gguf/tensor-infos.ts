// Reading the tensor-info table of a GGUF header and checking each tensor's shape, type and byte range.

import { GgufError } from "../errors.js";
import { ggmlType } from "../quant/types.js";
import { type Cursor } from "./cursor.js";
import type { GgufLimits } from "./reader.js";
import type { GgufTensorInfo } from "./types.js";

/** ggml's GGML_MAX_DIMS: a tensor has 1 to 4 dimensions. Not configurable: ggml cannot hold more. */
export const GGML_MAX_DIMS = 4;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A tensor info as stored, before the layout checks that need the alignment and data offset. */
interface RawTensorInfo {
  readonly info: GgufTensorInfo;
  /** Absolute position of the entry in the file, for error messages. */
  readonly at: number;
}

/** Reads `count` tensor infos; checks names, dims, types and sizes (not yet the offsets). */
export function readTensorInfos(cur: Cursor, count: number, limits: GgufLimits): RawTensorInfo[] {
  // Checked before allocating: each entry is at least name length (8) + n_dims (4) + one dim (8)
  // + type (4) + offset (8) bytes.
  cur.need(count * 32, `${count} tensor infos`);
  const out: RawTensorInfo[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const at = cur.pos;
    const name = cur.string(`name of tensor ${i}`, limits.maxTensorNameBytes, "maxTensorNameBytes");
    if (seen.has(name)) throw new GgufError("duplicate_tensor", at, `tensor "${name}" appears twice`);
    seen.add(name);

    const dimsAt = cur.pos;
    const nDims = cur.u32(`dimension count of tensor "${name}"`);
    if (nDims > GGML_MAX_DIMS) {
      throw new GgufError("limit_exceeded", dimsAt, `tensor "${name}" has ${nDims} dimensions; ggml allows 1 to ${GGML_MAX_DIMS}`);
    }
    if (nDims === 0) throw new GgufError("bad_tensor", dimsAt, `tensor "${name}" has 0 dimensions; expected 1 to ${GGML_MAX_DIMS}`);
    const dims: number[] = [];
    let elements = 1n;
    for (let d = 0; d < nDims; d++) {
      const dimAt = cur.pos;
      const ne = cur.u64(`dimension ${d} of tensor "${name}"`);
      // ggml stores ne as int64; anything beyond 2^53 cannot be a real tensor and would lose
      // precision as a JS number.
      if (ne > MAX_SAFE) throw new GgufError("bad_tensor", dimAt, `tensor "${name}" dimension ${d} is ${ne}, above 2^53-1`);
      dims.push(Number(ne));
      elements *= ne;
    }
    if (elements > MAX_SAFE) {
      throw new GgufError("bad_tensor", dimsAt, `tensor "${name}" has ${elements} elements (${dims.join(" x ")}), above 2^53-1`);
    }

    const typeAt = cur.pos;
    const type = cur.u32(`type of tensor "${name}"`);
    const t = ggmlType(type);
    if (t === undefined) throw new GgufError("bad_tensor", typeAt, `tensor "${name}" has unknown ggml type id ${type}`);
    // As ggml: each row (ne[0] elements) must be whole blocks, since blocks never straddle rows.
    if (dims[0] % t.blockElements !== 0) {
      throw new GgufError(
        "bad_tensor",
        typeAt,
        `tensor "${name}" of type ${t.name} has rows of ${dims[0]} elements, not a multiple of the block size ${t.blockElements}`,
      );
    }
    const sizeBig = (elements / BigInt(t.blockElements)) * BigInt(t.blockBytes);
    if (sizeBig > MAX_SAFE) throw new GgufError("bad_tensor", typeAt, `tensor "${name}" takes ${sizeBig} bytes, above 2^53-1`);

    const offAt = cur.pos;
    const offset = cur.u64(`data offset of tensor "${name}"`);
    if (offset > MAX_SAFE) throw new GgufError("bad_tensor", offAt, `tensor "${name}" has data offset ${offset}, above 2^53-1`);
    out.push({ at: offAt, info: { name, type, dims, offset: Number(offset), size: Number(sizeBig) } });
  }
  return out;
}

/**
 * Checks the data ranges: each offset a multiple of `alignment`, each range inside the file when its
 * size is known, and no two ranges overlapping (ggml also requires them packed in table order; Woolly
 * only needs them disjoint, so it accepts any order).
 */
export function checkTensorRanges(
  raw: readonly RawTensorInfo[],
  alignment: number,
  dataOffset: number,
  fileSize: number | undefined,
): void {
  for (const { info, at } of raw) {
    if (info.offset % alignment !== 0) {
      throw new GgufError("bad_tensor", at, `tensor "${info.name}" data offset ${info.offset} is not a multiple of the alignment ${alignment}`);
    }
    if (fileSize !== undefined && dataOffset + info.offset + info.size > fileSize) {
      throw new GgufError(
        "bad_tensor",
        at,
        `tensor "${info.name}" data (bytes ${dataOffset + info.offset}..${dataOffset + info.offset + info.size}) lies beyond the end of the file (${fileSize} bytes)`,
      );
    }
  }
  const byStart = raw.filter((r) => r.info.size > 0).sort((a, b) => a.info.offset - b.info.offset);
  for (let i = 1; i < byStart.length; i++) {
    const prev = byStart[i - 1].info;
    const cur = byStart[i];
    if (cur.info.offset < prev.offset + prev.size) {
      throw new GgufError(
        "bad_tensor",
        cur.at,
        `tensor "${cur.info.name}" data (from ${cur.info.offset}) overlaps tensor "${prev.name}" (${prev.offset}..${prev.offset + prev.size})`,
      );
    }
  }
}
