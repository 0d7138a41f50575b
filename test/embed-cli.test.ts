// `woolly embed` in-process on the synth-bert fixture: the vector printed is model.embed()'s, as lines of
// numbers or JSON, with the token ids when asked; bad usage is one line with the error kind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { loadModelFile } from "../src/node.js";
import type { Model } from "../src/model/model.js";
import { fixturePath } from "./helpers/fixtures.js";

const BERT = fixturePath("archs/models", "synth-bert-Q8_0.gguf");

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), errIsTTY: false });
  return { code, out, err };
}

let model: Model;
beforeAll(async () => {
  model = await loadModelFile(BERT, { threads: 1 });
});
afterAll(() => model.dispose());

describe("woolly embed", () => {
  it("prints one line of numbers per text: the normalised pooled vector", async () => {
    const r = await cli("embed", BERT, "Hello world", "The quick brown fox", "-t", "1");
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    const want = await model.embed(["Hello world", "The quick brown fox"]);
    lines.forEach((line, i) => expect(line.split(" ").map(Number)).toEqual(Array.from(want[i])));
  });

  it("--json --tokens gives the ids and the vector; --no-normalize and --pooling reach embed()", async () => {
    const r = await cli("embed", BERT, "Hello world", "--json", "--tokens", "--no-normalize", "--pooling", "cls", "-t", "1");
    expect(r.code).toBe(0);
    const got = JSON.parse(r.out) as { data: { tokens: number[]; embedding: number[] }[] };
    expect(got.data[0].tokens).toEqual([101, 7592, 2088, 102]);
    const [want] = await model.embed("Hello world", { normalize: false, pooling: "cls" });
    expect(got.data[0].embedding).toEqual(Array.from(want));
  });

  it("--tokens on lines prints the ids above the vector", async () => {
    const r = await cli("embed", BERT, "Hello world", "--tokens", "-t", "1");
    expect(r.out.split("\n")[0]).toBe("tokens: [101,7592,2088,102]");
  });

  it("bad usage is one line with the error kind", async () => {
    const none = await cli("embed", BERT);
    expect([none.code, none.err]).toEqual([1, expect.stringMatching(/^woolly: TEXT must be at least one text to embed .*\[invalid_parameter\]\n$/)]);
    const pool = await cli("embed", BERT, "x", "--pooling", "max");
    expect(pool.err).toBe('woolly: --pooling must be mean, cls or last; got "max" [invalid_parameter]\n');
    const gen = await cli("run", BERT, "-p", "Hello", "-t", "1");
    expect(gen.code).toBe(1);
    expect(gen.err).toMatch(/is an encoder.*\[encoder_only\]\n$/);
  });
});
