// The GGUF fuzzer's case generator and oracle, shared by the suite's fixed-seed slice (test/fuzz.test.ts)
// and the long run (`npm run fuzz`, scripts/fuzz.mjs). Cases are mutations of real files — header bytes
// flipped, integers replaced by boundary values, spans cut or repeated, files truncated — and structured
// edits of the metadata a tokenizer and loader trust (huge vocabulary counts, merges naming missing
// tokens, tokens that are not UTF-8, tensor tables with impossible shapes or types). The oracle: parsing
// ends in success or a GgufError; loading ends in a model or a WoollyError; nothing else is thrown.
import { WoollyError } from "../../src/errors.js";
import { GgufError } from "../../src/errors.js";
import { GgufValueType, parseGguf, writeGguf, type GgufTensorInput, type GgufValue } from "../../src/gguf/index.js";
import { loadModel } from "../../src/model/load.js";
import { prng as rng } from "./bytes.js";
import { tensorsOf } from "./fixtures.js";

export interface FuzzCase {
  /** Which mutation, for the report; with the seed and index it reproduces the case. */
  readonly kind: string;
  readonly bytes: Uint8Array;
}

const BOUNDARY_U32 = [0, 1, 2, 7, 8, 31, 32, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const BOUNDARY_U64 = [0n, 1n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0xffffffffffffffffn, 1n << 40n];

/** Case number `i` of the run seeded `seed`, mutating one of `seeds` (real GGUF files). */
export function fuzzCase(seed: number, i: number, seeds: readonly Uint8Array[]): FuzzCase {
  const r = rng(seed * 1_000_003 + i);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const file = pick(seeds);
  const header = headerEnd(file);
  const out = file.slice();
  const dv = new DataView(out.buffer);
  const at = (limit: number) => Math.floor(r() * Math.max(1, limit));
  switch (Math.floor(r() * 7)) {
    case 0: {
      const flips = 1 + at(8);
      for (let k = 0; k < flips; k++) out[at(header)] ^= 1 << at(8);
      return { kind: "bit flips in the header", bytes: out };
    }
    case 1: {
      const p = at(header - 4);
      dv.setUint32(p, pick(BOUNDARY_U32), true);
      return { kind: "a u32 of the header set to a boundary value", bytes: out };
    }
    case 2: {
      const p = at(header - 8);
      dv.setBigUint64(p, pick(BOUNDARY_U64), true);
      return { kind: "a u64 of the header set to a boundary value", bytes: out };
    }
    case 3:
      return { kind: "truncated", bytes: file.slice(0, at(r() < 0.7 ? header : file.length)) };
    case 4: {
      const from = at(header);
      const len = 1 + at(64);
      return { kind: "a header span cut out", bytes: concat(file.subarray(0, from), file.subarray(Math.min(file.length, from + len))) };
    }
    case 5: {
      const from = at(header);
      const len = 1 + at(64);
      return { kind: "a header span repeated", bytes: concat(file.subarray(0, from + len), file.subarray(from)) };
    }
    default:
      try {
        return r() < 0.5 ? structuredTokenizerCase(file, r) : structuredTensorCase(file, r);
      } catch (e) {
        // The writer refuses some edits itself (a removed type id, data of the wrong size): flip bytes instead.
        if (!(e instanceof GgufError)) throw e;
        for (let k = 0; k < 4; k++) out[at(header)] ^= 0xff;
        return { kind: "bytes inverted in the header", bytes: out };
      }
  }
}

/** Where the header ends (the data section starts), or the whole file if it does not parse. */
function headerEnd(file: Uint8Array): number {
  try {
    return parseGguf(file).dataOffset;
  } catch {
    return file.length;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The file re-written with its metadata edited (valid GGUF, hostile contents). */
function rewrite(file: Uint8Array, edit: (m: Map<string, GgufValue>, t: GgufTensorInput[]) => GgufTensorInput[] | void): Uint8Array {
  const g = parseGguf(file);
  const metadata = new Map(g.metadata);
  const tensors = tensorsOf(g, file);
  return writeGguf({ metadata, tensors: edit(metadata, tensors) ?? tensors });
}

function structuredTokenizerCase(file: Uint8Array, r: () => number): FuzzCase {
  const which = Math.floor(r() * 5);
  const bytes = rewrite(file, (m) => {
    const tokens = m.get("tokenizer.ggml.tokens");
    const list = tokens?.type === 9 && Array.isArray(tokens.value.items) ? [...(tokens.value.items as string[])] : [];
    const arr = (itemType: 8, items: string[]): GgufValue => ({ type: GgufValueType.ARRAY, value: { itemType, items } });
    if (which === 0) m.set("tokenizer.ggml.merges", arr(8, ["zz qq", "a", " ", "x y z", "\uFFFF \uFFFE"]));
    else if (which === 1) m.set("tokenizer.ggml.tokens", arr(8, list.map((t, i) => (i % 7 === 3 ? "\uD800" + t : t))));
    else if (which === 2) m.set("tokenizer.ggml.bos_token_id", { type: GgufValueType.UINT32, value: 0xfffffff0 });
    else if (which === 3) m.set("tokenizer.ggml.token_type", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, items: new Int32Array(3).fill(99) } });
    else m.set("tokenizer.ggml.tokens", arr(8, []));
  });
  return { kind: ["merges naming missing tokens", "tokens that are not UTF-8", "a BOS id past the vocabulary", "token types of the wrong length", "an empty vocabulary"][which], bytes };
}

function structuredTensorCase(file: Uint8Array, r: () => number): FuzzCase {
  const which = Math.floor(r() * 4);
  const bytes = rewrite(file, (_, tensors) => {
    const k = Math.floor(r() * tensors.length);
    const t = tensors[k];
    if (which === 0) tensors[k] = { ...t, dims: [...t.dims].reverse() };
    else if (which === 1) tensors[k] = { ...t, type: 5 }; // a removed ggml type id (Q4_2)
    else if (which === 2) tensors.splice(k, 1);
    else tensors.push({ ...t, name: t.name + ".extra" });
  });
  return { kind: ["a tensor with its dims swapped", "a tensor of a removed type", "a tensor missing", "an extra tensor"][which], bytes };
}

/** What a case did: "ok" or the error kind; anything else is a finding (thrown as a FuzzFinding). */
export class FuzzFinding extends Error {}

export function parseOracle(c: FuzzCase): string {
  try {
    parseGguf(c.bytes);
    return "ok";
  } catch (e) {
    if (e instanceof GgufError) return e.kind;
    throw new FuzzFinding(`parseGguf threw ${describe(e)} for a case of "${c.kind}"`, { cause: e });
  }
}

export async function loadOracle(c: FuzzCase): Promise<string> {
  try {
    const m = await loadModel(c.bytes, { threads: 1, contextLength: 32, batchSize: 8 });
    // A model that loads must run.
    await m.complete([m.tokenizer.bos ?? 1], { maxTokens: 2, temperature: 0 });
    m.dispose();
    return "ok";
  } catch (e) {
    if (e instanceof WoollyError) return e.kind;
    throw new FuzzFinding(`loading threw ${describe(e)} for a case of "${c.kind}"`, { cause: e });
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
