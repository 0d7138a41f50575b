// POST /slots/0?action=save|restore|erase (llama.cpp's names): a completion continued after a save, an
// erase and a restore equals the one never interrupted; names outside the slot directory, other models'
// snapshots and a server without a slot directory are refused with OpenAI-shaped errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, loadModelFile, type WoollyServer } from "../src/node.js";
import type { Model } from "../src/index.js";
import { fixturePath } from "./helpers/fixtures.js";

let model: Model;
let server: WoollyServer;
let bare: WoollyServer;
let base = "";
let bareBase = "";
const dir = mkdtempSync(join(tmpdir(), "woolly-slots-"));

beforeAll(async () => {
  model = await loadModelFile(fixturePath("models", "stories260K-Q8_0.gguf"), { contextLength: 256, threads: 1 });
  server = createServer(model, { slotSavePath: dir });
  bare = createServer(model);
  base = `http://127.0.0.1:${(await server.listen(0)).port}`;
  bareBase = `http://127.0.0.1:${(await bare.listen(0)).port}`;
});
afterAll(async () => {
  await server.close();
  await bare.close();
  model.dispose();
});

const post = async (url: string, body?: unknown) => {
  const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
};
const complete = async (prompt: number[]) =>
  (await post(`${base}/v1/completions`, { prompt, max_tokens: 8, temperature: 0 })).json as { choices: { text: string }[]; usage: { prompt_tokens: number } };

describe("slots", () => {
  it("save, erase and restore: the continuation equals the uninterrupted one", async () => {
    const prompt = model.tokenize("Once upon a time");
    const first = await complete(prompt);
    const saved = await post(`${base}/slots/0?action=save`, { filename: "story.bin" });
    expect(saved.status).toBe(200);
    expect(saved.json).toMatchObject({ id_slot: 0, filename: "story.bin" });
    expect(saved.json.n_saved).toBeGreaterThanOrEqual(prompt.length);
    expect(readdirSync(dir)).toEqual(["story.bin"]);
    const next = [...prompt, ...model.tokenize(first.choices[0].text, { addSpecial: false })];
    const straight = await complete(next);
    expect((await post(`${base}/slots/0?action=erase`)).json).toMatchObject({ id_slot: 0 });
    const restored = await post(`${base}/slots/0?action=restore`, { filename: "story.bin" });
    expect(restored.status).toBe(200);
    expect(restored.json.n_restored).toBe(saved.json.n_saved);
    expect((await complete(next)).choices[0].text).toBe(straight.choices[0].text);
  });

  it("refuses names outside the directory, unknown files, foreign bytes, other slots, and a server without a directory", async () => {
    for (const filename of ["../escape.bin", ".hidden", "a/b", "", 42]) {
      const r = await post(`${base}/slots/0?action=save`, { filename });
      expect(r.status).toBe(400);
      expect((r.json.error as { param: string }).param).toBe("filename");
    }
    expect((await post(`${base}/slots/0?action=restore`, { filename: "nothing.bin" })).status).toBe(404);
    writeFileSync(join(dir, "junk.bin"), "not a session");
    const junk = await post(`${base}/slots/0?action=restore`, { filename: "junk.bin" });
    expect(junk.status).toBe(400);
    expect((junk.json.error as { code: string }).code).toBe("bad_magic");
    expect((await post(`${base}/slots/1?action=save`, { filename: "x.bin" })).status).toBe(404);
    expect((await post(`${base}/slots/0?action=fly`, { filename: "x.bin" })).status).toBe(400);
    const off = await post(`${bareBase}/slots/0?action=save`, { filename: "x.bin" });
    expect(off.status).toBe(400);
    expect((off.json.error as { code: string }).code).toBe("slot_save_disabled");
  });
});
