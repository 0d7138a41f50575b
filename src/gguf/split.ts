// Split GGUF sets, as llama.cpp's gguf-split writes them: `name-00001-of-00003.gguf` and so on. Each
// part is a whole GGUF file with its own header and tensor table (tensor offsets relative to that
// part's data section); part 1 carries the model's metadata, and every part carries `split.no`
// (u16, 0-based), `split.count` (u16) and `split.tensors.count` (i32, the tensors of the whole set).
//
// SplitSource presents a set as ONE GgufSource: a virtual file that is the parts laid end to end.
// Its readHeader (which readGguf defers to) reads every part's header, checks that the parts belong
// together, and returns one merged GgufFile whose dataOffset is 0 and whose tensor offsets are
// positions in the virtual file; read/readInto route each range to its part. The model loader then
// needs no notion of parts: file.tensorStart(t) and readRangeInto(source, …) reach the right bytes,
// and sorting tensors by offset still streams the parts in order, each front to back.

import { DownloadError, GgufError, ParameterError, SplitError } from "../errors.js";
import { GgufFile } from "./file.js";
import { readGguf, type GgufSource, type ReadGgufOptions } from "./source.js";
import type { GgufTensorInfo } from "./types.js";

export const SPLIT_NO_KEY = "split.no";
export const SPLIT_COUNT_KEY = "split.count";
export const SPLIT_TENSORS_COUNT_KEY = "split.tensors.count";
const SPLIT_KEYS = new Set([SPLIT_NO_KEY, SPLIT_COUNT_KEY, SPLIT_TENSORS_COUNT_KEY]);

/** llama.cpp's SPLIT_PATH_FORMAT "%s-%05d-of-%05d.gguf", with `no` 0-based as in split.no. */
export function splitPartName(prefix: string, no: number, count: number): string {
  return `${prefix}-${String(no + 1).padStart(5, "0")}-of-${String(count).padStart(5, "0")}.gguf`;
}

/** The prefix, 0-based part number and count a part's file name encodes, or undefined. */
export function parseSplitName(name: string): { prefix: string; no: number; count: number } | undefined {
  const m = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/.exec(name);
  if (!m) return undefined;
  const no = Number(m[2]) - 1;
  const count = Number(m[3]);
  if (no < 0 || count < 1 || no >= count) return undefined;
  return { prefix: m[1], no, count };
}

export interface SplitInfo {
  /** This part's number, 0-based. */
  readonly no: number;
  readonly count: number;
  /** Tensors in the whole set. */
  readonly tensors: number;
}

/** The split keys of a part, or undefined for a file that is not part of a set. */
export function splitInfo(file: GgufFile): SplitInfo | undefined {
  if (!file.has(SPLIT_COUNT_KEY)) return undefined;
  return {
    no: file.getU32(SPLIT_NO_KEY, 0),
    count: file.getU32(SPLIT_COUNT_KEY),
    tensors: file.getI32(SPLIT_TENSORS_COUNT_KEY, file.tensors.length),
  };
}

/**
 * A loader given one part of a set it cannot complete (a lone Blob, bytes) would otherwise fail on a
 * missing tensor; say what is actually wrong instead.
 */
export function assertNotLonePart(file: GgufFile, name = "the file"): void {
  const info = splitInfo(file);
  if (info !== undefined && info.count > 1) {
    throw new SplitError(
      "missing_part",
      name,
      `${name} is part ${info.no + 1} of a ${info.count}-part split GGUF set; load it from the first part's path or URL, or pass every part`,
    );
  }
}

/** One part of a set, opened only when the set is read. */
export interface SplitPart {
  /** How errors name it: a path, a URL, a File's name. */
  readonly name: string;
  open(): Promise<GgufSource>;
}

interface Slot {
  readonly source: GgufSource;
  readonly base: number;
  readonly end: number;
}

/**
 * A split set as one GgufSource. `ordered`: parts[i] must be split.no i (names derived from a path
 * or URL; `given` is the one the caller named, read first, so a file merely NAMED like a part loads
 * as the single file it is). Unordered: parts in any order (Blobs), sorted by their split.no.
 */
export class SplitSource implements GgufSource {
  size: number | undefined = undefined;
  readonly parts: readonly SplitPart[];
  private readonly ordered: boolean;
  private readonly given: number;
  private readonly opened = new Map<number, GgufSource>();
  private slots: Slot[] = [];
  private merged: Promise<GgufFile> | undefined;

  constructor(parts: readonly SplitPart[], options: { ordered: boolean; given?: number }) {
    this.parts = parts;
    this.ordered = options.ordered;
    this.given = options.given ?? 0;
  }

  readHeader(options: ReadGgufOptions): Promise<GgufFile> {
    this.merged ??= this.assemble(options);
    return this.merged;
  }

  private async open(i: number): Promise<GgufSource> {
    const have = this.opened.get(i);
    if (have !== undefined) return have;
    const src = await this.parts[i].open();
    this.opened.set(i, src);
    return src;
  }

  /** Part i's header. Failures name the part, except for the one the caller named in ordered mode. */
  private async header(i: number, options: ReadGgufOptions): Promise<GgufFile> {
    const name = this.parts[i].name;
    try {
      return await readGguf(await this.open(i), options);
    } catch (e) {
      if (options.signal?.aborted === true || (this.ordered && i === this.given)) throw e;
      // A part the server does not have (downloading through the cache) is as missing as an absent file.
      const notFound = e instanceof DownloadError && e.kind === "http" && e.status === 404;
      if ((e instanceof GgufError && e.kind === "io") || notFound) {
        throw new SplitError("missing_part", name, `part ${name} of the split set cannot be read: ${e.message}`, { cause: e });
      }
      if (e instanceof GgufError) throw new SplitError("part_mismatch", name, `part ${name} is not a valid GGUF file: ${e.message}`, { cause: e });
      throw e;
    }
  }

  private async assemble(options: ReadGgufOptions): Promise<GgufFile> {
    const files = this.ordered ? await this.readOrdered(options) : await this.readUnordered(options);
    if (files.length === 1) {
      // Not a split set after all: the one file, read through unchanged.
      const [only] = files;
      const source = await this.open(only.index);
      this.slots = [{ source, base: 0, end: Number.MAX_SAFE_INTEGER }];
      this.size = only.file.fileSize;
      return only.file;
    }
    return this.merge(files);
  }

  private async readOrdered(options: ReadGgufOptions): Promise<{ index: number; file: GgufFile }[]> {
    const n = this.parts.length;
    const first = await this.header(this.given, options);
    const info = splitInfo(first);
    if (info === undefined || info.count <= 1) return [{ index: this.given, file: first }];
    const givenName = this.parts[this.given].name;
    if (info.count !== n) {
      throw new SplitError("part_mismatch", givenName, `${givenName} says the set has ${info.count} parts (split.count); its name says ${n}`);
    }
    const files: { index: number; file: GgufFile }[] = [];
    for (let i = 0; i < n; i++) files.push({ index: i, file: i === this.given ? first : await this.header(i, options) });
    return files;
  }

  private async readUnordered(options: ReadGgufOptions): Promise<{ index: number; file: GgufFile }[]> {
    const read: { index: number; file: GgufFile; info: SplitInfo }[] = [];
    for (let i = 0; i < this.parts.length; i++) {
      const file = await this.header(i, options);
      const info = splitInfo(file);
      if (info === undefined) {
        if (this.parts.length === 1) return [{ index: i, file }];
        throw new SplitError("part_mismatch", this.parts[i].name, `${this.parts[i].name} is not part of a split GGUF set (it has no ${SPLIT_COUNT_KEY})`);
      }
      read.push({ index: i, file, info });
    }
    const count = read[0].info.count;
    const byNo = new Map<number, { index: number; file: GgufFile }>();
    for (const r of read) {
      const name = this.parts[r.index].name;
      if (r.info.count !== count) {
        throw new SplitError("part_mismatch", name, `${name} belongs to a ${r.info.count}-part set; ${this.parts[read[0].index].name} to a ${count}-part one`);
      }
      const other = byNo.get(r.info.no);
      if (other !== undefined) {
        throw new SplitError("duplicate_part", name, `${name} and ${this.parts[other.index].name} are both part ${r.info.no + 1} of ${count}`);
      }
      byNo.set(r.info.no, r);
    }
    const files: { index: number; file: GgufFile }[] = [];
    for (let no = 0; no < count; no++) {
      const r = byNo.get(no);
      if (r === undefined) throw new SplitError("missing_part", `part ${no + 1} of ${count}`, `part ${no + 1} of the ${count}-part split set was not given`);
      files.push(r);
    }
    return files;
  }

  /** Checks that the parts form one set, then lays them end to end as one virtual file. */
  private async merge(files: readonly { index: number; file: GgufFile }[]): Promise<GgufFile> {
    const count = files.length;
    const first = splitInfo(files[0].file) as SplitInfo;
    const tensors: GgufTensorInfo[] = [];
    const owner = new Map<string, string>();
    const slots: Slot[] = [];
    let base = 0;
    for (let no = 0; no < count; no++) {
      const { index, file } = files[no];
      const name = this.parts[index].name;
      const info = splitInfo(file);
      if (info === undefined) throw new SplitError("part_mismatch", name, `${name} is not part of a split GGUF set (it has no ${SPLIT_COUNT_KEY})`);
      if (info.count !== count) throw new SplitError("part_mismatch", name, `${name} says the set has ${info.count} parts; the first part says ${count}`);
      if (info.no !== no) throw new SplitError("part_mismatch", name, `${name} has ${SPLIT_NO_KEY} ${info.no}, expected ${no} (it should be part ${no + 1} of ${count})`);
      if (info.tensors !== first.tensors) {
        throw new SplitError(
          "part_mismatch",
          name,
          `${name} belongs to a set of ${info.tensors} tensors, the first part to one of ${first.tensors}: is it a part of another model?`,
        );
      }
      let extent = file.dataOffset;
      for (const t of file.tensors) {
        const seen = owner.get(t.name);
        if (seen !== undefined) throw new SplitError("part_mismatch", name, `tensor ${t.name} is in both ${seen} and ${name}: is one of them a part of another model?`);
        owner.set(t.name, name);
        tensors.push({ ...t, offset: base + file.dataOffset + t.offset });
        extent = Math.max(extent, file.dataOffset + t.offset + t.size);
      }
      const end = base + (file.fileSize ?? extent);
      slots.push({ source: await this.open(index), base, end });
      base = end;
    }
    if (tensors.length !== first.tensors) {
      const last = this.parts[files[count - 1].index].name;
      throw new SplitError(
        "part_mismatch",
        last,
        `the ${count} parts hold ${tensors.length} tensors (${files.map((f) => f.file.tensors.length).join(" + ")}); ${SPLIT_TENSORS_COUNT_KEY} says ${first.tensors}`,
      );
    }
    this.slots = slots;
    this.size = base;
    const head = files[0].file;
    // The merged view is the model as if it had never been split: no split keys, so that a lone
    // part (which has them) is told apart by assertNotLonePart.
    const metadata = new Map([...head.metadata].filter(([k]) => !SPLIT_KEYS.has(k)));
    return new GgufFile({ version: head.version, alignment: head.alignment, dataOffset: 0, headerSize: head.headerSize, fileSize: base, metadata, tensors });
  }

  private slotAt(offset: number): Slot | undefined {
    return this.slots.find((s) => offset >= s.base && offset < s.end);
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const out = new Uint8Array(Math.max(0, length));
    const n = await this.readInto(offset, out, signal);
    return n === out.length ? out : out.subarray(0, n);
  }

  async readInto(offset: number, target: Uint8Array, signal?: AbortSignal): Promise<number> {
    let filled = 0;
    // A range may cross from one part into the next; the loader's never do (a tensor lies in one part).
    while (filled < target.length) {
      const at = offset + filled;
      const slot = this.slotAt(at);
      if (slot === undefined) break;
      const part = target.subarray(filled, Math.min(target.length, filled + (slot.end - at)));
      const local = at - slot.base;
      let n: number;
      if (slot.source.readInto !== undefined) n = await slot.source.readInto(local, part, signal);
      else {
        const got = await slot.source.read(local, part.length, signal);
        part.set(got);
        n = got.length;
      }
      filled += n;
      if (n < part.length) break;
    }
    return filled;
  }

  async close(): Promise<void> {
    const all = [...this.opened.values()];
    this.opened.clear();
    await Promise.all(all.map((s) => s.close?.()));
  }
}

/** Several Blobs/Files that are the parts of one set, in any order (one Blob: that file). */
export function blobsSource(blobs: readonly Blob[], open: (blob: Blob) => GgufSource): GgufSource {
  if (blobs.length === 0) throw new ParameterError("source", "a Blob or a non-empty list of the parts of a split set", "an empty list");
  const parts = blobs.map((b, i): SplitPart => {
    const name = (b as Blob & { name?: unknown }).name;
    return { name: typeof name === "string" && name !== "" ? name : `Blob #${i + 1}`, open: () => Promise.resolve(open(b)) };
  });
  return new SplitSource(parts, { ordered: false });
}

/**
 * For a URL whose last path segment is a part name (`…-00001-of-00003.gguf`): a SplitSource over
 * every part's URL (same query string), else undefined.
 */
export function splitUrlSource(url: string, open: (url: string) => GgufSource): SplitSource | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const slash = u.pathname.lastIndexOf("/");
  const parsed = parseSplitName(u.pathname.slice(slash + 1));
  if (parsed === undefined || parsed.count === 1) return undefined;
  const dir = u.pathname.slice(0, slash + 1);
  const parts: SplitPart[] = [];
  for (let no = 0; no < parsed.count; no++) {
    const v = new URL(u);
    v.pathname = dir + splitPartName(parsed.prefix, no, parsed.count);
    const href = no === parsed.no ? url : v.href;
    parts.push({ name: href, open: () => Promise.resolve(open(href)) });
  }
  return new SplitSource(parts, { ordered: true, given: parsed.no });
}
