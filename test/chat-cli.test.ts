// `woolly chat` and `woolly serve` driven in-process: piped input for chat, loopback HTTP for serve.
// Every moment a test acts at (an abort during the load, at the prompt, mid-reply; the server's
// port) is signalled by the command itself through its io, never guessed with a timer, so the
// tests behave the same on a fast machine and a loaded one.
import { describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import { chatCommand, type ChatIo } from "../src/cli/chat.js";
import { serveCommand } from "../src/cli/serve.js";
import { fixturePath } from "./helpers/fixtures.js";

const MODEL = fixturePath("models", "stories260K-Q8_0.gguf");

interface Captured {
  out: string[];
  err: string[];
  io: { out(t: string): void; err(t: string): void };
}

/** An io that records what the command prints and calls `onOut`/`onErr` as each piece arrives. */
function capture(onOut?: (t: string) => void, onErr?: (t: string) => void): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (t) => {
        out.push(t);
        onOut?.(t);
      },
      err: (t) => {
        err.push(t);
        onErr?.(t);
      },
    },
  };
}

/** Piped chat streams: the prompt ("> ") is drawn on `output`, lines are read from `input`. */
function pipes(): { input: PassThrough; output: PassThrough; drawn: () => string } {
  const input = new PassThrough();
  const output = new PassThrough();
  let drawn = "";
  output.on("data", (b: Buffer) => (drawn += b.toString()));
  return { input, output, drawn: () => drawn };
}

describe("woolly chat", () => {
  it("answers each line, keeps the conversation, and exits at the end of input", async () => {
    const c = capture();
    const { input, output } = pipes();
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

  describe("an abort (Ctrl-C without a terminal) exits with 0", () => {
    it("before the load starts", async () => {
      const c = capture();
      const { input, output, drawn } = pipes();
      expect(await chatCommand([MODEL, "--ctx", "128"], { ...c.io, input, output }, AbortSignal.abort())).toBe(0);
      expect(c.err.join("")).toBe("");
      expect(drawn()).toBe("");
    });

    // The progress line (drawn because the io says stderr is a terminal) marks the load's moments.
    for (const [when, at] of [
      ["after the first tensor arrived", /loading .*\(\d+%\)/],
      ["after the last tensor arrived, before the prompt", /\(100%\)/],
    ] as const) {
      it(`during the load, ${when}`, async () => {
        const ac = new AbortController();
        const c = capture(undefined, (t) => {
          if (at.test(t)) ac.abort();
        });
        const { input, output, drawn } = pipes();
        const io: ChatIo = { ...c.io, errIsTTY: true, input, output };
        expect(await chatCommand([MODEL, "--ctx", "128"], io, ac.signal)).toBe(0);
        expect(ac.signal.aborted).toBe(true);
        const err = c.err.join("");
        // No banner and no prompt: the chat never started. The progress line was cleared.
        expect(err).not.toContain("chat template");
        expect(err.endsWith("\r\x1b[K")).toBe(true);
        expect(drawn()).toBe("");
      });
    }

    it("as the banner is printed, before the first prompt", async () => {
      const ac = new AbortController();
      const c = capture(undefined, (t) => {
        if (t.includes("chat template")) ac.abort();
      });
      const { input, output, drawn } = pipes();
      expect(await chatCommand([MODEL, "--ctx", "128"], { ...c.io, input, output }, ac.signal)).toBe(0);
      // The interface closed before the prompt could be drawn.
      expect(drawn()).toBe("");
      expect(c.out).toEqual([]);
    });

    it("while waiting at the prompt", async () => {
      const ac = new AbortController();
      const c = capture();
      const { input, output, drawn } = pipes();
      output.on("data", (b: Buffer) => {
        if (b.toString().includes("> ")) ac.abort();
      });
      expect(await chatCommand([MODEL, "--ctx", "128"], { ...c.io, input, output }, ac.signal)).toBe(0);
      expect(c.err.join("")).toMatch(/chat template: ChatML/);
      expect(drawn()).toBe("> ");
      expect(c.out).toEqual([]);
    });

    it("mid-reply: the reply stops, then the chat exits", async () => {
      const ac = new AbortController();
      const c = capture(() => ac.abort());
      const { input, output } = pipes();
      input.write("Tell me about a cat.\n");
      expect(await chatCommand([MODEL, "--ctx", "128", "--temp", "0", "-n", "64"], { ...c.io, input, output }, ac.signal)).toBe(0);
      // The first piece, then the note: the abort came while the reply was streaming.
      expect(c.out).toHaveLength(2);
      expect(c.out[0].length).toBeGreaterThan(0);
      expect(c.out[1]).toBe(" [stopped]\n");
    });
  });

  it("refuses an unknown --template", async () => {
    await expect(chatCommand([MODEL, "--template", "alpaca"], capture().io)).rejects.toThrow(/--template must be auto, model or chatml/);
  });
});

describe("woolly serve", () => {
  it("serves on an ephemeral loopback port until aborted", async () => {
    const ac = new AbortController();
    // The banner names the bound port: the server is listening once it is printed.
    let listening!: (port: number) => void;
    const port = new Promise<number>((resolve) => (listening = resolve));
    const c = capture(undefined, (t) => {
      const m = /http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(t);
      if (m) listening(Number(m[1]));
    });
    const done = serveCommand([MODEL, "--port", "0", "--ctx", "128", "--quiet"], c.io, ac.signal);
    // A failed start rejects `done`; racing it keeps that failure from hanging the wait.
    const bound = await Promise.race([port, done.then((code) => Promise.reject(new Error(`serve ended with ${code} before listening`)))]);
    expect(bound).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${bound}/health`);
    expect(await health.json()).toEqual({ status: "ok" });
    const models = (await (await fetch(`http://127.0.0.1:${bound}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data[0].id).toBe("stories260K-Q8_0");
    ac.abort();
    expect(await done).toBe(0);
    expect(c.err.join("")).toContain("woolly: stopping");
  });

  it("an abort during the load exits with 0 and never listens", async () => {
    const c = capture();
    expect(await serveCommand([MODEL, "--port", "0", "--ctx", "128"], c.io, AbortSignal.abort())).toBe(0);
    expect(c.err.join("")).toBe("");
  });
});
