// Compares Woolly's BPE pre-tokenizer table (src/tokenizer/pretokenizers.ts) with a llama.cpp checkout:
// every tokenizer.ggml.pre name in llama_vocab::impl::load, the LLAMA_VOCAB_PRE_TYPE it selects, the
// flags that branch sets, the regex list llm_tokenizer_bpe uses for that type, and (src/unicode.cpp)
// which exact regex texts llama.cpp hands to its hand-written matchers. Run it when
// llama.cpp moves:
//   node scripts/check-pretokenizers.mjs /path/to/llama.cpp
// Prints each difference and exits 1 if there is any. (Regexes are compared as code points: the table
// writes non-ASCII class members as \u escapes, llama.cpp writes them literally.)
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const llama = process.argv[2];
if (!llama) {
  console.error("usage: node scripts/check-pretokenizers.mjs /path/to/llama.cpp");
  process.exit(2);
}
const src = readFileSync(join(llama, "src", "llama-vocab.cpp"), "utf8");
const unicodeSrc = readFileSync(join(llama, "src", "unicode.cpp"), "utf8");

/** A C++ string literal's body → its value (only the escapes llama-vocab.cpp uses). */
function cppString(body) {
  const esc = { n: "\n", r: "\r", t: "\t", "\\": "\\", '"': '"', "'": "'" };
  return body.replace(/\\(.)/g, (_m, c) => {
    if (!(c in esc)) throw new Error(`unexpected escape \\${c}`);
    return esc[c];
  });
}

// Regex lists per type: the switch in llm_tokenizer_bpe's constructor.
const ctor = src.slice(src.indexOf("struct llm_tokenizer_bpe : llm_tokenizer {"), src.indexOf("std::vector<std::string> regex_exprs;"));
const regexes = new Map();
const rawBytes = new Set();
for (const block of ctor.split(/\n\s*break;/)) {
  const types = [...block.matchAll(/case LLAMA_VOCAB_PRE_TYPE_(\w+):/g)].map((m) => m[1]);
  if (/\bdefault:/.test(block)) types.push("DEFAULT");
  const list = /regex_exprs = \{([\s\S]*?)\n\s*\};/.exec(block);
  if (!list) continue;
  const code = list[1].split("\n").filter((l) => !l.trim().startsWith("//")).join("\n");
  const values = [...code.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => cppString(m[1]));
  for (const t of types) {
    regexes.set(t, values);
    if (/byte_encode = false/.test(block)) rawBytes.add(t);
  }
}

// Names, types and flags: the tokenizer_pre chain in llama_vocab::impl::load.
const chainStart = src.indexOf('} else if (tokenizer_pre == "default") {');
const chain = src.slice(chainStart, src.indexOf("unknown pre-tokenizer type", chainStart));
const names = new Map();
for (const branch of chain.split("} else if").slice(1)) {
  const type = /pre_type = LLAMA_VOCAB_PRE_TYPE_(\w+);/.exec(branch)?.[1];
  if (!type) continue;
  const flag = (name) => {
    const m = new RegExp(`${name} = (true|false);`).exec(branch);
    return m ? m[1] === "true" : undefined;
  };
  const info = {
    type,
    cleanSpaces: flag("clean_spaces") ?? true,
    ignoreMerges: flag("ignore_merges") ?? false,
    addBos: flag("add_bos") ?? false,
    escapeWhitespaces: flag("escape_whitespaces") ?? false,
    addSep: flag("add_sep") ?? false,
    noDefaultBos: /special_bos_id = LLAMA_TOKEN_NULL/.test(branch),
    lowercase: /normalizer_opts\.lowercase = false/.test(branch) ? false : true,
    rawBytes: rawBytes.has(type),
  };
  for (const m of branch.matchAll(/tokenizer_pre == "([^"]+)"/g)) names.set(m[1], info);
}

// Regex texts with a hand-written matcher: the regex_expr == "…" tests of unicode_regex_split_custom.
const dispatch = unicodeSrc.slice(unicodeSrc.indexOf("static std::vector<size_t> unicode_regex_split_custom("));
const customTexts = [...dispatch.slice(0, dispatch.indexOf("return bpe_offsets;")).matchAll(/regex_expr == "((?:[^"\\]|\\.)*)"/g)].map((m) => cppString(m[1]));

// The table and the matcher dispatch, bundled on the fly from the TypeScript source.
const bundle = await build({
  stdin: {
    contents: 'export { PRETOKENIZERS } from "./pretokenizers.ts"; export { customSplitter } from "./split-custom.ts";',
    resolveDir: join(root, "src", "tokenizer"), loader: "ts",
  },
  bundle: true, write: false, format: "esm", platform: "neutral", logLevel: "silent",
});
const { PRETOKENIZERS, customSplitter } = await import(`data:text/javascript;base64,${Buffer.from(bundle.outputFiles[0].text).toString("base64")}`);

const unescape = (r) => r.replace(/\\u\{([0-9A-Fa-f]+)\}|\\u([0-9A-Fa-f]{4})/g, (_m, a, b) => String.fromCodePoint(parseInt(a ?? b, 16)));
const ours = new Map();
for (const row of PRETOKENIZERS) for (const n of row.names) ours.set(n, row);

const problems = [];
for (const [name, info] of names) {
  const row = ours.get(name);
  if (!row) {
    problems.push(`missing: "${name}" (LLAMA_VOCAB_PRE_TYPE_${info.type})`);
    continue;
  }
  const want = regexes.get(info.type) ?? regexes.get("DEFAULT");
  const got = row.regexes.map(unescape);
  if (JSON.stringify(want) !== JSON.stringify(got)) problems.push(`regexes of "${name}":\n  llama.cpp ${JSON.stringify(want)}\n  Woolly    ${JSON.stringify(got)}`);
  const rowFlags = {
    cleanSpaces: row.cleanSpaces ?? true, ignoreMerges: row.ignoreMerges ?? false, addBos: row.addBos ?? false,
    escapeWhitespaces: row.escapeWhitespaces ?? false, addSep: row.addSep ?? false, noDefaultBos: row.noDefaultBos ?? false,
    lowercase: row.lowercase ?? true, rawBytes: row.rawBytes ?? false,
  };
  for (const [k, v] of Object.entries(rowFlags)) if (info[k] !== v) problems.push(`"${name}": ${k} is ${v}, llama.cpp has ${info[k]}`);
}
for (const name of ours.keys()) if (!names.has(name)) problems.push(`extra: "${name}" is not a name llama.cpp accepts`);
for (const text of customTexts) if (customSplitter(text) === undefined) problems.push(`no hand-written matcher for ${JSON.stringify(text)}`);

console.log(`${names.size} names in llama.cpp, ${ours.size} in the table, ${customTexts.length} matcher texts, ${problems.length} difference(s)`);
for (const p of problems) console.log(p);
process.exit(problems.length > 0 ? 1 : 0);
