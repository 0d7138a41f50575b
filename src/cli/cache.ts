// `woolly cache ls` and `woolly cache rm NAME`: what the model cache (the models/ folder of
// WOOLLY_CACHE, else $XDG_CACHE_HOME/woolly, else ~/.cache/woolly) holds, and removing an entry. Models get there when a
// model command is given a URL or an hf: reference.
import { ParameterError } from "../errors.js";
import { deleteCachedModel, listCachedModels } from "../download/cache.js";
import { defaultCacheDir } from "../download/store-fs.js";
import { parseArgs, type CommandSpec } from "./args.js";
import type { CliIo } from "./run.js";

export const CACHE_COMMAND: CommandSpec = {
  name: "cache",
  operands: "ls|rm [NAME]",
  summary: "list the downloaded models (ls) or delete one by the name ls shows (rm NAME)",
  options: [{ name: "json", flag: true, description: "ls: one JSON array of { name, size }" }],
};

export async function cacheCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, CACHE_COMMAND.options);
  const [action, name, extra] = args.positional;
  const dir = await defaultCacheDir();
  if (action === "ls" && name === undefined) {
    const models = await listCachedModels({ dir });
    if (args.flags.has("json")) io.out(JSON.stringify(models) + "\n");
    else if (models.length === 0) io.out(`no models in ${dir}/models\n`);
    else {
      const width = Math.max(...models.map((m) => m.name.length));
      for (const m of models) io.out(`${m.name.padEnd(width)}  ${(m.size / 1e6).toFixed(1).padStart(9)} MB\n`);
    }
    return 0;
  }
  if (action === "rm" && name !== undefined && extra === undefined) {
    if (!(await deleteCachedModel(name, { dir }))) {
      io.err(`woolly: no cached model named ${name} in ${dir} ("woolly cache ls" lists them)\n`);
      return 1;
    }
    io.out(`deleted ${name}\n`);
    return 0;
  }
  throw new ParameterError("cache action", `"ls" or "rm NAME" (usage: woolly cache ${CACHE_COMMAND.operands})`, argv.join(" ") || "nothing");
}
