// Locates the shared reference fixtures (../shared/fixtures beside the project root) in place.

import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

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

export function fixturePath(dir: "models" | "tokenizer" | "headers", file: string): string {
  return join(FIXTURES, dir, file);
}
