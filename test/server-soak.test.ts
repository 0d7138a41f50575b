// The soak: 32 concurrent loopback clients, streamed and whole, a third leaving at seeded random
// points, malformed requests mixed in, a queue small enough to overflow. Afterwards every request
// was answered exactly once, every completed answer equals the same request run alone, and the
// heap is back within 10% of where it started.
//
// Short by default (32 clients × 2 requests, a few seconds). `npm run soak` (scripts/soak.mjs)
// sets SOAK=long (32 × SOAK_REQUESTS, default 60) and SOAK_REPORT=file for the figures.
//
// Memory is the V8 heap in use after a forced collection, in this process: it is what a leak of
// per-request objects (closures, buffers, listeners, queue links) grows, and a collection makes it
// exact. RSS is not: the model's WebAssembly memory and the allocator's freed pages keep it at its
// high-water mark whether or not anything leaked. The collector is exposed at run time (node:v8), so
// neither vitest nor a child process needs --expose-gc.
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadModel, type Model } from "../src/index.js";
import { CHATML_TEMPLATE } from "../src/chat/index.js";
import { createServer, type WoollyServer } from "../src/node.js";
import { withTemplate } from "./helpers/server.js";
import { collector, MAX_ATTEMPTS, references, runSoak, slotOf, soakPlans } from "./helpers/soak.js";

const LONG = process.env.SOAK === "long";
const CLIENTS = 32;
const PER_CLIENT = LONG ? Number(process.env.SOAK_REQUESTS ?? 60) : 2;
// Small enough that 32 clients usually overflow it while long answers run, so the 503 path is
// part of the soak (how often depends on arrival timing; the counts are checked either way).
const MAX_QUEUE = 8;

let model: Model;
let server: WoollyServer;
let base: string;
/** Ids sent by the clients and logged by the server, per slot (slotOf); the references' and any other ids logged. */
const sent = new Uint8Array(CLIENTS * PER_CLIENT * MAX_ATTEMPTS);
const logged = new Uint8Array(sent.length);
let refsLogged = 0;
let strays = 0;
let lines = 0;
let linesWanted = Infinity;
let allLogged: () => void = () => undefined;

beforeAll(async () => {
  model = await loadModel(withTemplate("stories260K-Q8_0.gguf", CHATML_TEMPLATE), { contextLength: 256 });
  server = createServer(model, {
    modelId: "soak",
    maxQueue: MAX_QUEUE,
    onLog(line) {
      const id = / \[([^\]]+)\]$/.exec(line)?.[1] ?? "";
      const slot = slotOf(id, PER_CLIENT);
      if (slot >= 0) logged[slot]++;
      else if (id.startsWith("ref-")) refsLogged++;
      else strays++;
      if (++lines >= linesWanted) allLogged();
    },
  });
  const { port } = await server.listen(0, "127.0.0.1");
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await server.close();
  model.dispose();
});

it(
  `${CLIENTS} clients × ${PER_CLIENT} requests: each answered once, answers equal to the request alone, the heap back within 10%`,
  async () => {
    const gc = collector();
    // The references double as the warm-up: code compiled, caches and pools at their working size.
    const options = { base, clients: CLIENTS, requestsPerClient: PER_CLIENT, seed: Number(process.env.SOAK_SEED ?? 16) };
    const plans = soakPlans(options);
    const refs = await references(base, plans);
    gc();
    const before = process.memoryUsage();
    const t0 = performance.now();

    const report = await runSoak(options, plans, refs, sent);
    // Handlers of clients that left may still be finishing: wait until the server has logged them all.
    const total = refs.size + report.requests;
    await new Promise<void>((resolve) => {
      allLogged = resolve;
      linesWanted = total;
      if (lines >= total) resolve();
    });
    const seconds = (performance.now() - t0) / 1000;
    gc();
    const after = process.memoryUsage();

    const m = server.metrics();
    const byStatus: Record<string, number> = {};
    for (const statuses of Object.values(m.requests)) for (const [s, n] of Object.entries(statuses)) byStatus[s] = (byStatus[s] ?? 0) + n;
    const figures = {
      seed: options.seed,
      clients: CLIENTS,
      references: refs.size,
      requests: report.requests,
      seconds: Math.round(seconds * 10) / 10,
      outcomes: report.outcomes,
      disconnects_planned: report.disconnectsPlanned,
      malformed: report.malformed,
      streamed: report.streamed,
      retries_after_503: report.retriesAfter503,
      server_status: byStatus,
      server_errors: m.errors,
      tokens_generated: m.tokens_generated_total,
      decode_tokens_per_second: m.decode_tokens_per_second.avg,
      heap_used_mb: { before: mb(before.heapUsed), after: mb(after.heapUsed) },
      rss_mb: { before: mb(before.rss), after: mb(after.rss) },
      array_buffers_mb: { before: mb(before.arrayBuffers), after: mb(after.arrayBuffers) },
      problems: report.problems.slice(0, 20),
    };
    if (process.env.SOAK_REPORT) writeFileSync(process.env.SOAK_REPORT, JSON.stringify(figures, null, 2) + "\n");

    // Every completed answer is well formed and equal to the request run alone.
    expect(report.problems).toEqual([]);
    expect(report.outcomes.ok).toBeGreaterThan(0);
    expect(report.outcomes.left).toBeGreaterThan(0);
    expect(report.outcomes.ok + report.outcomes.rejected + report.outcomes.bad_request + report.outcomes.left + report.outcomes.other).toBe(report.requests);
    expect(report.outcomes.other).toBe(0);
    // Malformed requests are refused before they queue: 400 every one, never 503.
    expect(report.outcomes.bad_request).toBe(report.malformed);
    // Each id the clients sent was handled exactly once, and nothing else was.
    expect(sent.reduce((a, b) => a + b, 0)).toBe(report.requests);
    expect(sent.every((n) => n <= 1)).toBe(true);
    expect(logged).toEqual(sent);
    expect([refsLogged, strays]).toEqual([refs.size, 0]);
    // The server's counts agree with the clients'. A client that left may still have been sent its
    // whole answer (200 or 503, not 499) before it read it, so only the sums are exact.
    expect(lines).toBe(total);
    const [s200, s400, s499, s503] = ["200", "400", "499", "503"].map((s) => byStatus[s] ?? 0);
    expect(s200 + s400 + s499 + s503).toBe(total);
    expect(s400).toBe(report.outcomes.bad_request);
    expect(s200 + s499 + s503).toBe(refs.size + report.outcomes.ok + report.outcomes.left + report.outcomes.rejected);
    expect(s503).toBeGreaterThanOrEqual(report.outcomes.rejected);
    expect(s499).toBeLessThanOrEqual(report.outcomes.left);
    expect(m).toMatchObject({ queue_depth: 0, processing: 0, queue_rejected: s503 });
    expect(m.errors.queue_full ?? 0).toBe(s503);
    // Memory: back within 10% of the warmed-up start.
    expect(after.heapUsed).toBeLessThanOrEqual(before.heapUsed * 1.1);
  },
  LONG ? 20 * 60_000 : 120_000,
);

function mb(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}
