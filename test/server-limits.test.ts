// The server's limits: a bounded queue (503 + Retry-After when full), a max_tokens ceiling (400),
// and a request timeout (504, or an error event in a stream) — each state reached on purpose with a
// model that holds its generation until the test lets it go and a clock the test advances.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { loadModel, type Model } from "../src/index.js";
import { CHATML_TEMPLATE } from "../src/chat/index.js";
import { ParameterError } from "../src/errors.js";
import { createServer, type ServerOptions, type WoollyServer } from "../src/node.js";
import { commandHelp, parseArgs } from "../src/cli/args.js";
import { SERVE_COMMAND, serveCommand, serverLimitsFromArgs } from "../src/cli/serve.js";
import { fixturePath } from "./helpers/fixtures.js";
import { fakeClock, heldModel, requestLog, until, withTemplate } from "./helpers/server.js";

const MODEL_ID = "stories260K-chat";
let model: Model;

beforeAll(async () => {
  model = await loadModel(withTemplate("stories260K-Q8_0.gguf", CHATML_TEMPLATE), { contextLength: 256 });
});
afterAll(() => model.dispose());

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** A server on an ephemeral loopback port, closed by the returned function. */
async function start(m: Model, options: ServerOptions): Promise<{ server: WoollyServer; base: string; close: () => Promise<void> }> {
  const server = createServer(m, { modelId: MODEL_ID, ...options });
  const { port } = await server.listen(0, "127.0.0.1");
  return { server, base: `http://127.0.0.1:${port}`, close: () => server.close() };
}

function post(base: string, path: string, body: unknown): Promise<Response> {
  return fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

const completion = (n: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  prompt: "Once upon a time",
  max_tokens: n,
  temperature: 0,
  ignore_eos: true,
  ...extra,
});

describe("the bounded queue", () => {
  it("a request beyond maxQueue gets 503 with Retry-After and an OpenAI error; the queued ones still complete", async () => {
    const held = heldModel(model);
    const log = requestLog();
    const { server, base, close } = await start(held.model, { maxQueue: 1, onLog: log.onLog });
    try {
      const holding = held.holding();
      const first = post(base, "/v1/completions", completion(6));
      await holding;
      const second = post(base, "/v1/completions", completion(6));
      await until(() => server.metrics().queue_depth === 1);

      const third = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "X-Request-Id": "client-7/3" }, body: JSON.stringify(completion(6)) });
      expect(third.status).toBe(503);
      expect(third.headers.get("retry-after")).toBe("1");
      // A browser's script may read the hint and the id it sent, which comes back and goes into the log.
      expect(third.headers.get("access-control-expose-headers")).toBe("Retry-After, X-Request-Id");
      expect(third.headers.get("x-request-id")).toBe("client-7/3");
      expect(await log.lines(1)).toEqual([expect.stringMatching(/^POST \/v1\/completions 503 \d+ ms \[client-7\/3\]$/)]);
      const body = (await third.json()) as ErrorBody;
      expect(body.error).toEqual({
        message: "the server is busy: 1 request is waiting (the limit is 1); retry later",
        type: "server_error",
        param: null,
        code: "server_busy",
      });
      // The official client sees the retryable status (with retries off, so nothing sleeps).
      const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0 });
      await expect(client.completions.create({ model: MODEL_ID, prompt: "x", max_tokens: 2 })).rejects.toMatchObject({ status: 503, code: "server_busy" });
      // An id that is not short plain text is neither echoed nor logged.
      const odd = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "X-Request-Id": "x".repeat(129) }, body: "{}" });
      expect([odd.status, odd.headers.get("x-request-id")]).toEqual([400, null]);
      expect(server.metrics()).toMatchObject({ queue_depth: 1, processing: 1, queue_capacity: 1, queue_rejected: 2, errors: { queue_full: 2 } });

      held.release();
      const answers = await Promise.all([first, second]);
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
      for (const a of answers) expect(((await a.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(6);
      await log.lines(5);
      expect(server.metrics()).toMatchObject({ queue_depth: 0, processing: 0, requests_served: 2, requests: { "/v1/completions": { "200": 2, "503": 2, "400": 1 } } });
    } finally {
      await close();
    }
  });

  it("maxQueue 0 serves one request at a time and refuses the rest", async () => {
    const held = heldModel(model);
    const { server, base, close } = await start(held.model, { maxQueue: 0 });
    try {
      const holding = held.holding();
      const first = post(base, "/v1/completions", completion(3));
      await holding;
      expect((await post(base, "/v1/completions", completion(3))).status).toBe(503);
      held.release();
      expect((await first).status).toBe(200);
      // The model is idle again: the next one is admitted.
      expect((await post(base, "/v1/completions", completion(3))).status).toBe(200);
      expect(server.metrics().queue_rejected).toBe(1);
    } finally {
      await close();
    }
  });

  it("rejects malformed limits", () => {
    expect(() => createServer(model, { maxQueue: -1 })).toThrow(ParameterError);
    expect(() => createServer(model, { maxTokensCeiling: 0 })).toThrow(/maxTokensCeiling must be an integer ≥ 1/);
    expect(() => createServer(model, { requestTimeoutMs: 1.5 })).toThrow(/requestTimeoutMs/);
  });
});

describe("the max_tokens ceiling", () => {
  it("refuses a request above it (400 naming the field) and gives it to requests that ask nothing", async () => {
    const { base, close } = await start(model, { maxTokensCeiling: 8 });
    try {
      const messages = [{ role: "user", content: "Tell me a story" }];
      const cases: [string, Record<string, unknown>, string][] = [
        ["/v1/completions", completion(9), "max_tokens"],
        ["/v1/chat/completions", { messages, max_tokens: 100 }, "max_tokens"],
        ["/v1/chat/completions", { messages, max_completion_tokens: 9 }, "max_completion_tokens"],
      ];
      for (const [path, body, param] of cases) {
        const r = await post(base, path, body);
        expect(r.status).toBe(400);
        const e = ((await r.json()) as ErrorBody).error;
        expect(e).toMatchObject({ type: "invalid_request_error", param });
        expect(e.message).toMatch(new RegExp(`^${param} is \\d+, above this server's limit of 8 tokens per request$`));
      }
      const usage = async (path: string, body: Record<string, unknown>): Promise<number> => {
        const r = await post(base, path, body);
        expect(r.status).toBe(200);
        return ((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens;
      };
      expect(await usage("/v1/completions", completion(8))).toBe(8);
      // Chat asks nothing: it would run to the context's end; the ceiling stops it.
      expect(await usage("/v1/chat/completions", { messages, temperature: 0, ignore_eos: true })).toBe(8);
      // Completions' own default (16) is above the ceiling: the ceiling wins.
      expect(await usage("/v1/completions", { prompt: "Lily", temperature: 0, ignore_eos: true })).toBe(8);
    } finally {
      await close();
    }
  });
});

/** Server-sent events of a stream, as parsed JSON, with "[DONE]" kept as a string. */
function events(text: string): unknown[] {
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice("data: ".length))
    .map((d) => (d === "[DONE]" ? d : (JSON.parse(d) as unknown)));
}

describe("the request timeout", () => {
  it("a whole response that runs past it is aborted and answered 504", async () => {
    const held = heldModel(model);
    const time = fakeClock();
    const log = requestLog();
    const { server, base, close } = await start(held.model, { requestTimeoutMs: 1000, clock: time.clock, onLog: log.onLog });
    try {
      const holding = held.holding();
      const answer = post(base, "/v1/completions", completion(50));
      await holding;
      time.advance(999);
      expect(server.metrics().processing).toBe(1);
      time.advance(1);
      const r = await answer;
      expect(r.status).toBe(504);
      expect(((await r.json()) as ErrorBody).error).toEqual({
        message: "the request took longer than the server's limit of 1000 ms",
        type: "server_error",
        param: null,
        code: "timeout",
      });
      expect(await log.lines(1)).toEqual(["POST /v1/completions 504 1000 ms"]);
      const m = server.metrics();
      expect(m).toMatchObject({ processing: 0, requests_aborted: 1, errors: { timeout: 1 }, requests: { "/v1/completions": { "504": 1 } } });
      // Stopped where it was held, one piece in, not at 50 tokens.
      expect(m.tokens_generated_total).toBeLessThan(5);
      expect(time.pending()).toBe(0);
    } finally {
      await close();
    }
  });

  it("a stream that runs past it ends with an error event and no [DONE]", async () => {
    const held = heldModel(model);
    const time = fakeClock();
    const { server, base, close } = await start(held.model, { requestTimeoutMs: 500, clock: time.clock });
    try {
      const holding = held.holding();
      const answer = post(base, "/v1/chat/completions", { messages: [{ role: "user", content: "Hi" }], max_tokens: 50, temperature: 0, stream: true });
      await holding;
      time.advance(500);
      const r = await answer;
      expect(r.status).toBe(200);
      const all = events(await r.text());
      expect(all.at(-1)).toEqual({
        error: { message: "the request took longer than the server's limit of 500 ms", type: "server_error", param: null, code: "timeout" },
      });
      expect(all).not.toContain("[DONE]");
      // The role chunk and the held first piece came before the error.
      expect(all.length).toBe(3);
      expect(server.metrics().errors).toEqual({ timeout: 1 });
    } finally {
      await close();
    }
  });

  it("a request still queued when its time is up leaves the queue and is answered 504 at once", async () => {
    const held = heldModel(model);
    const time = fakeClock();
    const log = requestLog();
    const { server, base, close } = await start(held.model, { requestTimeoutMs: 1000, clock: time.clock, onLog: log.onLog });
    try {
      const holding = held.holding();
      const first = post(base, "/v1/completions", completion(4));
      await holding;
      time.advance(600);
      const second = post(base, "/v1/completions", completion(4));
      await until(() => server.metrics().queue_depth === 1);
      // Deadlines 1000 (running) and 1600 (queued): both pass in this one step.
      time.advance(1000);
      expect(server.metrics().queue_depth).toBe(0);
      const [a, b] = await Promise.all([first, second]);
      expect([a.status, b.status]).toEqual([504, 504]);
      expect(((await b.json()) as ErrorBody).error.code).toBe("timeout");
      expect((await log.lines(2)).sort()).toEqual(["POST /v1/completions 504 1000 ms", "POST /v1/completions 504 1600 ms"]);
      // The queued one never ran: only the running one is counted as an aborted generation.
      expect(server.metrics()).toMatchObject({ queue_depth: 0, processing: 0, requests_aborted: 1, errors: { timeout: 2 } });
      // The model is free again.
      held.release();
      expect((await post(base, "/v1/completions", completion(4))).status).toBe(200);
    } finally {
      await close();
    }
  });
});

describe("woolly serve's flags", () => {
  it("--max-queue, --max-tokens-ceiling and --timeout set the server's limits; help lists them", () => {
    const args = parseArgs(["m.gguf", "--max-queue", "3", "--max-tokens-ceiling=100", "--timeout", "2.5"], SERVE_COMMAND.options);
    expect(serverLimitsFromArgs(args)).toEqual({ maxQueue: 3, maxTokensCeiling: 100, requestTimeoutMs: 2500 });
    expect(serverLimitsFromArgs(parseArgs(["m.gguf"], SERVE_COMMAND.options))).toEqual({ maxQueue: undefined, maxTokensCeiling: undefined, requestTimeoutMs: undefined });
    expect(() => serverLimitsFromArgs(parseArgs(["m.gguf", "--max-queue", "-1"], SERVE_COMMAND.options))).toThrow("--max-queue must be an integer ≥ 0; got -1");
    expect(() => serverLimitsFromArgs(parseArgs(["m.gguf", "--timeout", "0"], SERVE_COMMAND.options))).toThrow(/--timeout must be a number of seconds > 0/);
    expect(() => serverLimitsFromArgs(parseArgs(["m.gguf", "--max-tokens-ceiling", "lots"], SERVE_COMMAND.options))).toThrow(/--max-tokens-ceiling must be a number/);
    const help = commandHelp(SERVE_COMMAND);
    expect(help).toMatch(/--max-queue N +requests that may wait for the model; the next gets 503 with Retry-After \(default 64\)/);
    expect(help).toMatch(/--max-tokens-ceiling N +most tokens one request may generate/);
    expect(help).toMatch(/--timeout SECONDS +abort a request/);
  });
});

describe("woolly serve", () => {
  it("serves with the limits its flags set, and stops when its signal fires", async () => {
    let err = "";
    let ready!: () => void;
    const started = new Promise<void>((resolve) => (ready = resolve));
    const stop = new AbortController();
    const io = {
      out: () => undefined,
      err: (t: string) => {
        err += t;
        if (err.includes("Ctrl-C stops")) ready();
      },
    };
    const argv = [fixturePath("models", "stories260K-Q8_0.gguf"), "--port", "0", "--max-queue", "0", "--max-tokens-ceiling", "4", "--timeout", "30", "-q"];
    const done = serveCommand(argv, io, stop.signal);
    await started;
    expect(err).toContain("at most 0 waiting, max_tokens ≤ 4, timeout 30 s\n");
    const port = /http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(err)?.[1];
    const base = `http://127.0.0.1:${port ?? "?"}`;
    const refused = await post(base, "/v1/completions", { prompt: "Lily", max_tokens: 5 });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as ErrorBody).error.message).toBe("max_tokens is 5, above this server's limit of 4 tokens per request");
    const ok = await post(base, "/v1/completions", { prompt: "Lily", temperature: 0, ignore_eos: true });
    expect(((await ok.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(4);
    const metrics = (await (await fetch(`${base}/metrics`)).json()) as { queue_capacity: number };
    expect(metrics.queue_capacity).toBe(0);
    stop.abort();
    expect(await done).toBe(0);
    expect(err).toContain("woolly: stopping");
  });
});
