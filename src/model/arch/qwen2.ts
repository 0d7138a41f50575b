// qwen2 (Qwen2, Qwen2.5): llama with biases on Q, K and V and NeoX RoPE.
import type { ArchSpec } from "./common.js";

export const qwen2: ArchSpec = () => ({ ropeNeox: true, qkvBias: true });
