// Locates the shared reference fixtures (../shared/fixtures beside the project root) in place.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseGguf, writeGguf, type GgufFile, type GgufTensorInput, type GgufValue } from "../../src/gguf/index.js";

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), "../../../shared/fixtures");

/** Every GGUF fixture: [file name, absolute path], models first, then tokenizer vocabularies. */
export function ggufFixtures(): [string, string][] {
  const out: [string, string][] = [];
  for (const dir of ["models", "tokenizer"]) {
    const d = join(FIXTURES, dir);
    for (const f of readdirSync(d).sort()) if (f.endsWith(".gguf")) out.push([f, join(d, f)]);
  }
  return out;
}

export function fixturePath(dir: "models" | "tokenizer" | "headers" | "archs/models", file: string): string {
  return join(FIXTURES, dir, file);
}

/** Every tensor of a parsed file as writer input, its data viewed in place in the file's bytes. */
export function tensorsOf(g: GgufFile, file: Uint8Array): GgufTensorInput[] {
  return g.tensors.map((t) => ({
    name: t.name,
    type: t.type,
    dims: t.dims,
    data: file.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + t.size),
  }));
}

/** A fixture model re-written after `edit` changed its metadata or tensor list: variants of real files. */
export function rewriteFixture(
  file: string,
  edit: (metadata: Map<string, GgufValue>, tensors: GgufTensorInput[]) => GgufTensorInput[] | void,
  dir: "models" | "archs/models" = "models",
): Uint8Array {
  const original = new Uint8Array(readFileSync(fixturePath(dir, file)));
  const g = parseGguf(original);
  const metadata = new Map(g.metadata);
  const tensors = tensorsOf(g, original);
  return writeGguf({ metadata, tensors: edit(metadata, tensors) ?? tensors });
}
