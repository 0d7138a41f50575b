// smollm3 (SmolLM3): llama whose every fourth layer (3, 7, 11, …) applies no RoPE. llama.cpp fixes the
// period at 4; a file may state it as `no_rope_layer_interval`.
import { LoadError } from "../../errors.js";
import type { ArchSpec } from "./common.js";

export const smollm3: ArchSpec = (h) => {
  const every = h.u32("no_rope_layer_interval", 4);
  if (!(every >= 1)) throw new LoadError("bad_hyperparameter", `${h.key("no_rope_layer_interval")} is ${every}; it must be >= 1`);
  return { layer: (l) => ({ noRope: (l + 1) % every === 0 }) };
};
