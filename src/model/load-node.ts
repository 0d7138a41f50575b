// Loading a model from a file path (Node, Deno, Bun): the file is read tensor by tensor into the
// arena, never whole.
import { openGgufPath } from "../gguf/node-source.js";
import { loadModel, type LoadOptions } from "./load.js";
import type { Model } from "./model.js";

/** Load the GGUF file at `path` (a split set's part: the whole set, see openGgufPath). */
export async function loadModelFile(path: string, options: LoadOptions = {}): Promise<Model> {
  return loadModel(await openGgufPath(path), options);
}
