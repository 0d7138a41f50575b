// Stream text from a GGUF model in Deno.
//   deno run --allow-read examples/deno.ts MODEL.gguf ["prompt"] [maxTokens] [temperature]
// Inside this repository "woolly/node" resolves to the built package (npm run build); in your own
// project, `deno add npm:woolly` and import from "npm:woolly/node".
import { loadModelFile } from "woolly/node";

const [path, prompt = "Once upon a time", maxTokens = "64", temperature = "0"] = Deno.args;
if (!path) {
  console.error("usage: deno run --allow-read examples/deno.ts MODEL.gguf [prompt] [maxTokens] [temperature]");
  Deno.exit(2);
}

const model = await loadModelFile(path, { contextLength: 512 });
const out = new TextEncoder();
await Deno.stdout.write(out.encode(prompt));
const generation = model.generate(prompt, { maxTokens: Number(maxTokens), temperature: Number(temperature) });
for await (const piece of generation) await Deno.stdout.write(out.encode(piece));
const { timings, finishReason } = await generation.result;
await Deno.stdout.write(out.encode("\n"));
console.error(
  `[${model.simd} SIMD, ${model.threads} thread(s)] prefill ${timings.prefillTokensPerSecond.toFixed(1)} tokens/s, ` +
    `decode ${timings.decodeTokensPerSecond.toFixed(1)} tokens/s, finish: ${finishReason}`,
);
model.dispose();
