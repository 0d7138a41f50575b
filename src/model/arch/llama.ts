// llama (Llama 2/3, TinyLlama, Mistral, SmolLM2): the defaults every other architecture differs from.
import type { ArchSpec } from "./common.js";

export const llama: ArchSpec = () => ({});
