// Stream text from a GGUF model in Bun.
//   bun examples/bun.ts MODEL.gguf ["prompt"] [maxTokens] [temperature]
// Inside this repository "woolly/node" resolves to the built package (npm run build); in your own
// project, `bun add woolly` and import it the same way.
import { loadModelFile } from "woolly/node";

const [path, prompt = "Once upon a time", maxTokens = "64", temperature = "0"] = Bun.argv.slice(2);
if (!path) {
  console.error("usage: bun examples/bun.ts MODEL.gguf [prompt] [maxTokens] [temperature]");
  process.exit(2);
}

const model = await loadModelFile(path, { contextLength: 512 });
process.stdout.write(prompt);
const generation = model.generate(prompt, { maxTokens: Number(maxTokens), temperature: Number(temperature) });
for await (const piece of generation) process.stdout.write(piece);
const { timings, finishReason } = await generation.result;
process.stdout.write("\n");
console.error(
  `[${model.simd} SIMD, ${model.threads} thread(s)] prefill ${timings.prefillTokensPerSecond.toFixed(1)} tokens/s, ` +
    `decode ${timings.decodeTokensPerSecond.toFixed(1)} tokens/s, finish: ${finishReason}`,
);
model.dispose();
