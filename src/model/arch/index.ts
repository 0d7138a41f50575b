// The architectures Woolly runs, one small file each: what the model does differently from llama.
// Adding an architecture is adding a file here and a row in ARCHS; the loader and the forward pass
// read only the ModelConfig built from these traits (src/model/config.ts).
import { bert } from "./bert.js";
import { gemma2 } from "./gemma2.js";
import { gemma3 } from "./gemma3.js";
import { granite } from "./granite.js";
import { lfm2 } from "./lfm2.js";
import { llama } from "./llama.js";
import { nomicBert } from "./nomic-bert.js";
import { olmo2 } from "./olmo2.js";
import { phi3 } from "./phi3.js";
import { qwen2 } from "./qwen2.js";
import { qwen3 } from "./qwen3.js";
import { smollm3 } from "./smollm3.js";

import type { ArchSpec } from "./common.js";

export type { ArchHparams, ArchSpec, ArchTraits, LayerTraits } from "./common.js";

export const ARCHS = { llama, qwen2, granite, qwen3, gemma2, gemma3, phi3, smollm3, olmo2, lfm2, bert, "nomic-bert": nomicBert } satisfies Record<string, ArchSpec>;
