// Test doubles for the server's tests: a model whose generations pause until the test lets them go,
// a request log to wait on, and a clock the test advances. Every state a test checks is reached by
// these, never by a timer racing the work.
import { GgufValueType } from "../../src/gguf/index.js";
import type { Model } from "../../src/index.js";
import type { ServerClock } from "../../src/node.js";
import { rewriteFixture } from "./fixtures.js";

/** A fixture re-written with a chat template (the server's chat endpoint needs one the test knows). */
export function withTemplate(file: string, template: string): Uint8Array {
  return rewriteFixture(file, (metadata) => {
    metadata.set("tokenizer.chat_template", { type: GgufValueType.STRING, value: template });
  });
}

/**
 * The model, whose generations pause after their first piece until their client leaves (the server
 * aborts the generation's signal) or the test calls release(). The pause is where the test wants a
 * generation to be, on every machine, however fast it decodes; `holding()` resolves when the next
 * generation has reached it.
 */
export function heldModel(inner: Model): { model: Model; holding: () => Promise<void>; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let reached: (() => void) | undefined;
  const model = Object.create(inner) as Model;
  model.generate = (prompt, options) => {
    const g = inner.generate(prompt, options);
    const signal = options?.signal;
    const left = new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      else signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    return {
      result: g.result,
      async *[Symbol.asyncIterator]() {
        let first = true;
        for await (const piece of g) {
          yield piece;
          if (first) {
            first = false;
            reached?.();
            reached = undefined;
            await Promise.race([released, left]);
          }
        }
      },
    };
  };
  const holding = (): Promise<void> => new Promise<void>((resolve) => (reached = resolve));
  return { model, holding, release };
}

/** A log that resolves `lines(n)` once the server has logged n finished requests. */
export function requestLog(): { onLog: (line: string) => void; lines: (n: number) => Promise<string[]>; count: () => number } {
  const seen: string[] = [];
  const waiting: { n: number; resolve: (lines: string[]) => void }[] = [];
  return {
    onLog(line) {
      seen.push(line);
      for (const w of waiting.filter((w) => seen.length >= w.n)) w.resolve(seen.slice());
    },
    lines: (n) => (seen.length >= n ? Promise.resolve(seen.slice()) : new Promise((resolve) => waiting.push({ n, resolve }))),
    count: () => seen.length,
  };
}

/**
 * Resolves once `ready()` holds, looking again after each turn of the event loop. For state the
 * server changes without telling anyone (its queue); it never gives up on a slow machine (the test
 * timeout bounds it) and waits no longer than needed on a fast one.
 */
export async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((r) => setImmediate(r));
}

/** A clock that moves only when the test calls advance(); due timers run inside that call, in order. */
export function fakeClock(): { clock: ServerClock; advance: (ms: number) => void; pending: () => number } {
  let now = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  const clock: ServerClock = {
    now: () => now,
    setTimeout(callback, ms) {
      const id = nextId++;
      timers.set(id, { at: now + ms, callback });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
  };
  const advance = (ms: number): void => {
    now += ms;
    const due = [...timers].filter(([, t]) => t.at <= now).sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
    for (const [id, t] of due) {
      timers.delete(id);
      t.callback();
    }
  };
  return { clock, advance, pending: () => timers.size };
}
