// The server's soak: many concurrent loopback clients, streamed and whole, some leaving at seeded
// random points, malformed requests mixed in. Each request carries an id (X-Request-Id and `user`),
// so the run can check every request was answered exactly once, and every completed answer equals
// the same request's answer when it ran alone (temperature 0).
import { Agent, request, type IncomingMessage } from "node:http";
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";

export interface SoakOptions {
  readonly base: string;
  readonly clients: number;
  readonly requestsPerClient: number;
  readonly seed: number;
}

/** What one request ended as, seen by its client. */
type Outcome = "ok" | "rejected" | "bad_request" | "left" | "other";

export interface SoakReport {
  readonly requests: number;
  readonly outcomes: Readonly<Record<Outcome, number>>;
  readonly disconnectsPlanned: number;
  readonly malformed: number;
  readonly streamed: number;
  readonly retriesAfter503: number;
  /** Anything wrong: a malformed answer, an answer differing from the request alone, a wrong status. */
  readonly problems: readonly string[];
}

/** Attempts per request at most: the first and up to 8 retries after a 503. */
export const MAX_ATTEMPTS = 9;

/**
 * Where request `c{client}-r{i}-a{attempt}` is counted in a table of
 * clients × requestsPerClient × MAX_ATTEMPTS slots (-1 for any other id). A preallocated table, not
 * a growing list of strings, so the bookkeeping does not show in the heap the soak measures.
 */
export function slotOf(id: string, requestsPerClient: number): number {
  const m = /^c(\d+)-r(\d+)-a(\d+)$/.exec(id);
  if (!m) return -1;
  const [c, i, a] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return i < requestsPerClient && a < MAX_ATTEMPTS ? (c * requestsPerClient + i) * MAX_ATTEMPTS + a : -1;
}

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PROMPTS = ["Once upon a time", "The little dog", "Lily and Tom", "One day, a bird", "The sun was", "Ben had a red"];
const MAX_TOKENS = [8, 24, 120];
const MALFORMED = ["{", "[]", '{"messages":"hi"}', '{"prompt":42}', '{"prompt":"x","max_tokens":-1}', '{"messages":[{"role":"tool","content":"x"}]}', '"str"', ""];

type Endpoint = "/v1/chat/completions" | "/v1/completions";
type Leave = { at: "body" } | { at: "events"; after: number } | { at: "turns"; after: number };

interface Plan {
  readonly endpoint: Endpoint;
  /** Valid requests' key into the references; undefined for a malformed body. */
  readonly key?: string;
  readonly body: (id: string) => string;
  readonly stream: boolean;
  readonly leave?: Leave;
}

function validPlan(endpoint: Endpoint, prompt: string, max: number, stream: boolean, leave?: Leave): Plan {
  const key = `${endpoint}|${prompt}|${max}|${stream}`;
  const common = { max_tokens: max, temperature: 0, seed: 7, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) };
  const body = (id: string): string =>
    JSON.stringify(endpoint === "/v1/completions" ? { prompt, ...common, user: id } : { messages: [{ role: "user", content: prompt }], ...common, user: id });
  return { endpoint, key, body, stream, leave };
}

/** Each client's requests, drawn from the seed alone (so a failing run can be replayed). */
export function soakPlans(options: SoakOptions): Plan[][] {
  return Array.from({ length: options.clients }, (_, c) => {
    const rand = seeded(options.seed * 1000 + c);
    return Array.from({ length: options.requestsPerClient }, () => randomPlan(rand));
  });
}

function randomPlan(rand: () => number): Plan {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const endpoint = rand() < 0.5 ? "/v1/chat/completions" : "/v1/completions";
  if (rand() < 0.12) {
    const text = pick(MALFORMED);
    return { endpoint, body: () => text, stream: false };
  }
  const stream = rand() < 0.5;
  let leave: Leave | undefined;
  // A third of the valid requests leave: mid-body, after some events, or some turns after sending.
  if (rand() < 1 / 3) {
    const r = rand();
    leave = r < 0.2 ? { at: "body" } : stream ? { at: "events", after: 1 + Math.floor(rand() * 4) } : { at: "turns", after: Math.floor(rand() * 40) };
  }
  return validPlan(endpoint, pick(PROMPTS), pick(MAX_TOKENS), stream, leave);
}

/** What a completed answer said, in a form both shapes share. */
interface Answer {
  readonly text: string;
  readonly finish: string | null;
  readonly usage: unknown;
}

interface Exchange {
  readonly status: number;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
  readonly left: boolean;
}

/** One exchange over the agent; `leave` closes the connection at its point. Never rejects. */
function exchange(agent: Agent, base: string, plan: Plan, id: string): Promise<Exchange> {
  return new Promise((resolve) => {
    const payload = plan.body(id);
    let settled = false;
    const finish = (e: Exchange): void => {
      if (!settled) resolve(e);
      settled = true;
    };
    // Only a client that closed the connection itself has left; a connection the server broke is a failure.
    const left = (): void => finish({ status: 0, headers: {}, body: "", left: true });
    const broken = (e?: Error): void => finish({ status: -1, headers: {}, body: `connection broken: ${e?.message ?? "closed before the end"}`, left: false });
    const leave = plan.leave;
    const headers: Record<string, string> = { "Content-Type": "application/json", "X-Request-Id": id, "Content-Length": String(Buffer.byteLength(payload)) };
    // 100-continue: the server has taken the request (and its id) before half the body is sent and the client leaves.
    if (leave?.at === "body") headers.Expect = "100-continue";
    const req = request(base + plan.endpoint, { method: "POST", agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      let events = 0;
      res.on("data", (c: Buffer) => {
        chunks.push(c);
        events += c.toString("utf8").split("\n\n").length - 1;
        if (leave?.at === "events" && events >= leave.after && !settled) {
          left();
          req.destroy();
        }
      });
      res.on("end", () => finish({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), left: false }));
      res.on("error", broken);
      res.on("close", () => {
        if (!res.complete) broken();
      });
    });
    req.on("error", broken);
    if (leave?.at === "body") {
      req.on("continue", () => req.write(payload.slice(0, payload.length >> 1), () => (left(), req.destroy())));
      req.flushHeaders();
      return;
    }
    req.end(payload, () => {
      if (leave?.at !== "turns") return;
      let n = leave.after;
      const turn = (): void => {
        if (settled) return;
        if (n-- > 0) setImmediate(turn);
        else {
          left();
          req.destroy();
        }
      };
      turn();
    });
  });
}

/** A completed 200's answer, or a description of what is malformed in it. */
export function parseAnswer(plan: Plan, body: string): Answer | string {
  const chat = plan.endpoint === "/v1/chat/completions";
  if (!plan.stream) {
    let v: { object?: string; id?: string; choices?: { message?: { content?: string }; text?: string; finish_reason?: string }[]; usage?: unknown };
    try {
      v = JSON.parse(body) as typeof v;
    } catch {
      return `not JSON: ${body.slice(0, 80)}`;
    }
    if (v.object !== (chat ? "chat.completion" : "text_completion") || typeof v.id !== "string" || v.choices?.length !== 1) return `bad shape: ${body.slice(0, 120)}`;
    const c = v.choices[0];
    const text = chat ? c.message?.content : c.text;
    if (typeof text !== "string") return `no text: ${body.slice(0, 120)}`;
    return { text, finish: c.finish_reason ?? null, usage: v.usage };
  }
  const events = body.split("\n\n");
  if (events.pop() !== "" || events.pop() !== "data: [DONE]") return `stream does not end with [DONE]: …${body.slice(-80)}`;
  let text = "";
  let finish: string | null = null;
  let usage: unknown;
  let id: string | undefined;
  for (const e of events) {
    if (!e.startsWith("data: ")) return `not an event: ${e.slice(0, 80)}`;
    let v: { id?: string; object?: string; choices?: { delta?: { content?: string }; text?: string; finish_reason?: string | null }[]; usage?: unknown };
    try {
      v = JSON.parse(e.slice(6)) as typeof v;
    } catch {
      return `event not JSON: ${e.slice(0, 80)}`;
    }
    if (v.object !== (chat ? "chat.completion.chunk" : "text_completion")) return `bad chunk object: ${e.slice(0, 120)}`;
    if ((id ??= v.id) !== v.id) return "chunk ids differ within one stream";
    for (const c of v.choices ?? []) {
      text += (chat ? c.delta?.content : c.text) ?? "";
      finish = c.finish_reason ?? finish;
    }
    if (v.usage) usage = v.usage;
  }
  return { text, finish, usage };
}

/** The answer of each distinct valid request among `plans` when it runs alone, one after another. */
export async function references(base: string, plans: readonly Plan[][]): Promise<Map<string, Answer>> {
  const agent = new Agent({ keepAlive: true });
  const out = new Map<string, Answer>();
  const distinct = new Map<string, Plan>();
  for (const plan of plans.flat()) if (plan.key !== undefined && !plan.leave) distinct.set(plan.key, plan);
  for (const plan of plans.flat()) if (plan.key !== undefined && !distinct.has(plan.key)) distinct.set(plan.key, { ...plan, leave: undefined });
  try {
    for (const plan of distinct.values()) {
      const r = await exchange(agent, base, plan, `ref-${out.size}`);
      const a = parseAnswer(plan, r.body);
      if (r.status !== 200 || typeof a === "string") throw new Error(`reference ${plan.key ?? ""}: ${r.status} ${typeof a === "string" ? a : ""}`);
      out.set(plan.key ?? "", a);
    }
  } finally {
    agent.destroy();
  }
  return out;
}

/** `sent` (clients × requestsPerClient × MAX_ATTEMPTS slots, see slotOf) counts each id sent. */
export async function runSoak(options: SoakOptions, plans: readonly Plan[][], refs: ReadonlyMap<string, Answer>, sent: Uint8Array): Promise<SoakReport> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.clients * 2 });
  const outcomes: Record<Outcome, number> = { ok: 0, rejected: 0, bad_request: 0, left: 0, other: 0 };
  const problems: string[] = [];
  let requests = 0;
  let disconnectsPlanned = 0;
  let malformed = 0;
  let streamed = 0;
  let retries = 0;
  const client = async (c: number): Promise<void> => {
    // Back-off jitter only: the plans were drawn beforehand.
    const rand = seeded(options.seed * 1000 + c + 500);
    for (let i = 0; i < plans[c].length; i++) {
      const plan = plans[c][i];
      if (plan.leave) disconnectsPlanned++;
      if (!plan.key) malformed++;
      if (plan.stream) streamed++;
      for (let attempt = 0; ; attempt++) {
        const id = `c${c}-r${i}-a${attempt}`;
        sent[slotOf(id, options.requestsPerClient)]++;
        requests++;
        const r = await exchange(agent, options.base, plan, id);
        if (r.left) {
          outcomes.left++;
          break;
        }
        if (r.headers["x-request-id"] !== id) problems.push(`${id}: answered with X-Request-Id ${String(r.headers["x-request-id"])}`);
        if (r.status === 503) {
          outcomes.rejected++;
          if (r.headers["retry-after"] !== "1" || !r.body.includes('"code":"server_busy"')) problems.push(`${id}: 503 without Retry-After or its error body`);
          // Back off (growing, jittered; not Retry-After's full second, so the soak stays short) and
          // retry a few times at most. The delay paces the load; no check depends on it.
          if (attempt < MAX_ATTEMPTS - 1) {
            retries++;
            await new Promise((resolve) => setTimeout(resolve, (attempt + 1) * (10 + Math.floor(rand() * 30))));
            continue;
          }
          break;
        }
        if (!plan.key) {
          if (r.status === 400 && r.body.includes('"type":"invalid_request_error"')) outcomes.bad_request++;
          else (outcomes.other++, problems.push(`${id}: malformed request answered ${r.status}`));
          break;
        }
        if (r.status !== 200) {
          outcomes.other++;
          problems.push(`${id}: ${plan.key}: status ${r.status}: ${r.body.slice(0, 120)}`);
          break;
        }
        const answer = parseAnswer(plan, r.body);
        const ref = refs.get(plan.key);
        if (typeof answer === "string") problems.push(`${id}: ${answer}`);
        else if (JSON.stringify(answer) !== JSON.stringify(ref)) problems.push(`${id}: ${plan.key}: ${JSON.stringify(answer)} differs from alone: ${JSON.stringify(ref)}`);
        outcomes.ok++;
        break;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.clients }, (_, c) => client(c)));
  } finally {
    agent.destroy();
  }
  return { requests, outcomes, disconnectsPlanned, malformed, streamed, retriesAfter503: retries, problems };
}

/** The engine's own collector (Node and its forks), made callable at run time without starting the process with --expose-gc. */
export function collector(): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  return () => {
    // A few passes: weak references and finalizers free more on the second.
    for (let i = 0; i < 3; i++) gc();
  };
}
