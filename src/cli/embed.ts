// `woolly embed MODEL.gguf "text" ["text" …]`: each text's embedding vector, one line of numbers per text
// (or one JSON object), with the token ids embedded when asked.
import { ParameterError } from "../errors.js";
import { modelPathArg, parseArgs, type CommandSpec } from "./args.js";
import { loadForCommand, LOAD_OPTIONS } from "./load.js";
import type { CliIo } from "./run.js";
import type { EmbedPooling } from "../model/embed.js";

const POOLING_CHOICES = ["mean", "cls", "last"] as const;

export const EMBED_COMMAND: CommandSpec = {
  name: "embed",
  operands: 'MODEL.gguf "text" ["text" …]',
  summary: "print each text's embedding (pooled, L2-normalised): one line of numbers per text",
  options: [
    { name: "json", flag: true, description: 'one JSON object {"data": [{"embedding", "tokens"?}]} instead of lines of numbers' },
    { name: "tokens", flag: true, description: "also print the token ids each text was embedded from" },
    { name: "pooling", choices: POOLING_CHOICES, value: "P", description: "how token vectors become one (default: the model file's, else mean for an encoder, last for a decoder)" },
    { name: "no-normalize", flag: true, description: "print the pooled vector as it is, not divided by its length" },
    ...LOAD_OPTIONS,
  ],
};

export async function embedCommand(argv: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const args = parseArgs(argv, EMBED_COMMAND.options);
  const path = modelPathArg(args, EMBED_COMMAND);
  const texts = args.positional.slice(1);
  if (texts.length === 0) throw new ParameterError("TEXT", `at least one text to embed (usage: woolly embed ${EMBED_COMMAND.operands})`, "nothing");
  const model = await loadForCommand(path, args, io, signal);
  if (!model) return 0;
  try {
    const ids = texts.map((t) => model.tokenize(t, { addSpecial: true, parseSpecial: true }));
    const vectors = await model.embed(ids, {
      normalize: !args.flags.has("no-normalize"),
      // parseArgs has already refused anything but the choices.
      pooling: args.values.get("pooling") as EmbedPooling | undefined,
    });
    const withTokens = args.flags.has("tokens");
    if (args.flags.has("json")) {
      const data = vectors.map((v, i) => (withTokens ? { tokens: ids[i], embedding: Array.from(v) } : { embedding: Array.from(v) }));
      io.out(JSON.stringify({ data }) + "\n");
    } else {
      vectors.forEach((v, i) => {
        if (withTokens) io.out(`tokens: ${JSON.stringify(ids[i])}\n`);
        io.out(Array.from(v).join(" ") + "\n");
      });
    }
    return 0;
  } finally {
    model.dispose();
  }
}
