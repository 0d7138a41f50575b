// `woolly inspect`: the text dump of one fixture, and --json agreeing with the reader.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { inspectCommand } from "../src/cli/inspect.js";
import { GgufValueType, parseGguf } from "../src/gguf/index.js";
import { fixturePath } from "./helpers/fixtures.js";

const STORIES = fixturePath("models", "stories260K-Q4_0.gguf");

async function run(argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await inspectCommand(argv, (l) => lines.push(l));
  return { code, lines };
}

describe("woolly inspect", () => {
  it("prints the header, every key and the tensor table", async () => {
    const { code, lines } = await run([STORIES]);
    expect(code).toBe(0);
    expect(lines).toContain("version: 3");
    expect(lines).toContain("alignment: 32");
    expect(lines).toContain("data offset: 14208");
    expect(lines).toContain("file size: 260608");
    expect(lines).toContain("metadata: 20 keys");
    expect(lines).toContain("tensors: 48");
    expect(lines).toContainEqual(expect.stringMatching(/^\s+1\s+general\.architecture\s+str\s+= "llama"$/));
    expect(lines).toContainEqual(expect.stringMatching(/^\s+2\s+tokenizer\.ggml\.tokens\s+arr\[str; 512\]\s+= \["<unk>", "<s>", "<\/s>", "<0x00>", "<0x01>", \.\.\. \(507 more\)\]$/));
    expect(lines).toContainEqual(expect.stringMatching(/^\s+17\s+llama\.block_count\s+u32\s+= 5$/));
    expect(lines).toContainEqual(expect.stringMatching(/llama\.attention\.layer_norm_rms_epsilon\s+f32\s+= 0\.00001$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ #\s+name\s+type\s+dims\s+offset\s+size$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ 1\s+token_embd\.weight\s+Q4_0\s+64 x 512\s+0\s+18432$/));
    expect(lines).toContainEqual(expect.stringMatching(/^10\s+blk\.0\.ffn_down\.weight\s+F16\s+172 x 64\s+50496\s+22016$/));
    expect(lines.length).toBe(6 + 20 + 1 + 1 + 48);
  });

  it("--json matches the reader", async () => {
    const { code, lines } = await run([STORIES, "--json"]);
    expect(code).toBe(0);
    expect(lines.length).toBe(1);
    const j = JSON.parse(lines[0]) as {
      version: number;
      alignment: number;
      dataOffset: number;
      metadata: Record<string, { type: string; value?: unknown; itemType?: string; length?: number; first?: unknown[] }>;
      tensors: { name: string; type: string; typeId: number; dims: number[]; offset: number; size: number }[];
    };
    const g = parseGguf(readFileSync(STORIES));
    expect(j.version).toBe(g.version);
    expect(j.alignment).toBe(g.alignment);
    expect(j.dataOffset).toBe(g.dataOffset);
    expect(Object.keys(j.metadata)).toEqual([...g.metadata.keys()]);
    for (const [key, v] of g.metadata) {
      const e = j.metadata[key];
      if (v.type === GgufValueType.ARRAY) {
        expect(e.type).toBe("arr");
        expect(e.length).toBe(v.value.items.length);
        expect(e.first).toEqual(Array.from(v.value.items.slice(0, 8) as ArrayLike<unknown>));
      } else if (v.type === GgufValueType.FLOAT32) {
        expect(Math.fround(e.value as number)).toBe(v.value);
      } else {
        expect(e.value).toBe(v.value);
      }
    }
    expect(j.metadata["llama.block_count"]).toEqual({ type: "u32", value: 5 });
    expect(j.tensors.map(({ name, typeId, dims, offset, size }) => ({ name, type: typeId, dims, offset, size }))).toEqual(g.tensors);
    expect(j.tensors[0].type).toBe("Q4_0");
  });

  it("--json --full lists every item; bigint values are decimal strings", async () => {
    const { lines } = await run([STORIES, "--json", "--full"]);
    const j = JSON.parse(lines[0]) as { metadata: Record<string, { items?: unknown[] }> };
    expect(j.metadata["tokenizer.ggml.tokens"].items?.length).toBe(512);
  });

  it("usage and errors give exit codes, not exceptions", async () => {
    expect((await run([])).code).toBe(2);
    expect((await run([STORIES, "--bogus"])).code).toBe(2);
    const missing = await run([fixturePath("models", "missing.gguf")]);
    expect(missing.code).toBe(1);
    expect(missing.lines[0]).toMatch(/^error: .*missing\.gguf.*\[io\]$/);
    const notGguf = await run([fixturePath("tokenizer", "ggml-vocab-gpt-2.gguf.inp")]);
    expect(notGguf.code).toBe(1);
    expect(notGguf.lines[0]).toMatch(/\[bad_magic\]/);
  });
});
