// `woolly chat` and `woolly serve` driven in-process: piped input for chat, loopback HTTP for serve.
import { describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import { chatCommand } from "../src/cli/chat.js";
import { serveCommand } from "../src/cli/serve.js";
import { fixturePath } from "./helpers/fixtures.js";

const MODEL = fixturePath("models", "stories260K-Q8_0.gguf");

function capture(): { out: string[]; err: string[]; io: { out(t: string): void; err(t: string): void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t) => void out.push(t), err: (t) => void err.push(t) } };
}

describe("woolly chat", () => {
  it("answers each line, keeps the conversation, and exits at the end of input", async () => {
    const c = capture();
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    const done = chatCommand([MODEL, "--temp", "0", "-n", "12", "--system", "You tell stories.", "--ctx", "256"], { ...c.io, input, output });
    input.write("Tell me about a cat.\n");
    input.write("/reset\n");
    input.write("And a dog?\n");
    input.end();
    expect(await done).toBe(0);
    const err = c.err.join("");
    expect(err).toMatch(/chat template: ChatML \(the model has none\)/);
    const out = c.out.join("");
    expect(out).toContain("(conversation cleared)");
    // Two replies, each ended by a newline (or a [stopped]/[context full] note).
    expect(out.split("\n").filter((l) => l.length > 0).length).toBeGreaterThanOrEqual(3);
  });

  it("an abort (Ctrl-C without a terminal) exits cleanly", async () => {
    const c = capture();
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    const ac = new AbortController();
    const done = chatCommand([MODEL, "--ctx", "128"], { ...c.io, input, output }, ac.signal);
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    expect(await done).toBe(0);
  });

  it("refuses an unknown --template", async () => {
    await expect(chatCommand([MODEL, "--template", "alpaca"], capture().io)).rejects.toThrow(/--template must be auto, model or chatml/);
  });
});

describe("woolly serve", () => {
  it("serves on an ephemeral loopback port until aborted", async () => {
    const c = capture();
    const ac = new AbortController();
    const done = serveCommand([MODEL, "--port", "0", "--ctx", "128", "--quiet"], c.io, ac.signal);
    let port: number | undefined;
    for (let i = 0; i < 200 && port === undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const m = /http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(c.err.join(""));
      if (m) port = Number(m[1]);
    }
    expect(port).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(await health.json()).toEqual({ status: "ok" });
    const models = (await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data[0].id).toBe("stories260K-Q8_0");
    ac.abort();
    expect(await done).toBe(0);
  });
});
