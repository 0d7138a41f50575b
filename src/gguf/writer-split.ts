// Writing a split GGUF set the way llama.cpp's gguf-split does (tools/gguf-split/gguf-split.cpp,
// split_strategy), so the parts are byte-for-byte what `llama-gguf-split --split` writes for the
// same input and limits (with the default alignment of 32 that every real file uses: gguf-split
// pads each part to GGUF_DEFAULT_ALIGNMENT whatever general.alignment says). test/gguf-split.test.ts
// pins the sha256 of gguf-split's own output for three fixture splits; ours match byte for byte.
//   - part 1 holds all the model's metadata; every other part none;
//   - every part then gets split.no (u16, 0-based), split.tensors.count (i32, tensors in the whole
//     set) and split.count (u16), in that order: gguf-split sets split.count to a placeholder first
//     and sets it again at the end, and ggml's gguf_set_val_* removes a key and appends it;
//   - tensors stay in file order; a new part starts when the tensor count or byte size says so
//     (--split-max-tensors, default 128, or --split-max-size counting each tensor padded to 32).

import { GgufError } from "../errors.js";
import { alignUp, GGUF_DEFAULT_ALIGNMENT } from "./reader.js";
import { SPLIT_COUNT_KEY, SPLIT_NO_KEY, SPLIT_TENSORS_COUNT_KEY, splitPartName } from "./split.js";
import type { GgufValue } from "./types.js";
import { ggufLayout, writeGguf, type GgufTensorDesc, type GgufTensorInput, type GgufWriteSpec } from "./writer.js";

export interface GgufSplitOptions {
  /** At most this many tensors per part (gguf-split's --split-max-tensors; its default is 128). */
  readonly maxTensors?: number;
  /** At most this many tensor bytes per part (--split-max-size), each tensor counted padded to 32. */
  readonly maxBytes?: number;
  /** Part 1 holds only the metadata (--no-tensor-first-split). */
  readonly noTensorFirstSplit?: boolean;
}

/** Each part's metadata and tensors, in order. */
export function planSplit<T extends GgufTensorDesc>(spec: GgufWriteSpec<T>, options: GgufSplitOptions = {}): GgufWriteSpec<T>[] {
  if (options.maxTensors !== undefined && options.maxBytes !== undefined) {
    throw new GgufError("bad_value", -1, "split by tensor count or by size, not both (as gguf-split)");
  }
  const maxTensors = options.maxTensors ?? (options.maxBytes === undefined ? 128 : undefined);
  if (maxTensors !== undefined && (!Number.isInteger(maxTensors) || maxTensors < 1)) {
    throw new GgufError("bad_value", -1, `maxTensors must be a positive integer; got ${maxTensors}`);
  }
  // Sizes as the reader will see them (validated by ggufLayout: names, types, dims).
  const sizes = ggufLayout({ ...spec, metadata: [], alignment: GGUF_DEFAULT_ALIGNMENT }).tensors.map((t) => t.size);
  const groups: T[][] = [[]];
  if (options.noTensorFirstSplit === true) groups.push([]);
  let bytes = 0;
  spec.tensors.forEach((t, i) => {
    const padded = alignUp(sizes[i], GGUF_DEFAULT_ALIGNMENT);
    const next = bytes + padded;
    const split = maxTensors !== undefined ? i > 0 && i % maxTensors === 0 : next > (options.maxBytes as number);
    if (split) {
      if (groups[groups.length - 1].length === 0) {
        throw new GgufError("bad_value", -1, `a part would hold no tensors: tensor ${t.name} alone takes ${padded} bytes, more than maxBytes`);
      }
      groups.push([]);
      bytes = padded;
    } else bytes = next;
    groups[groups.length - 1].push(t);
  });

  const count = groups.length;
  const u16 = (value: number): GgufValue => ({ type: 2, value });
  return groups.map((tensors, no) => {
    const metadata = new Map<string, GgufValue>();
    if (no === 0) for (const [k, v] of spec.metadata) metadata.set(k, v);
    for (const [k, v] of [
      [SPLIT_NO_KEY, u16(no)],
      [SPLIT_TENSORS_COUNT_KEY, { type: 5, value: spec.tensors.length }],
      [SPLIT_COUNT_KEY, u16(count)],
    ] as const) {
      metadata.delete(k);
      metadata.set(k, v);
    }
    return { version: spec.version, metadata, tensors, alignment: no === 0 ? spec.alignment : undefined };
  });
}

/** The parts as files in memory, each with its gguf-split name for `prefix`. */
export function writeGgufSplit(
  spec: GgufWriteSpec<GgufTensorInput>,
  options: GgufSplitOptions & { prefix?: string } = {},
): { name: string; bytes: Uint8Array }[] {
  const parts = planSplit(spec, options);
  return parts.map((p, no) => ({ name: splitPartName(options.prefix ?? "model", no, parts.length), bytes: writeGguf(p) }));
}
