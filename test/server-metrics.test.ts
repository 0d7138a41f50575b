// /metrics in Prometheus's text format beside the JSON one: the exact text (HELP and TYPE lines,
// names, label escaping), content negotiation, and counters that follow the requests served.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../src/index.js";
import { CHATML_TEMPLATE } from "../src/chat/index.js";
import { createServer, escapeLabelValue, renderPrometheus, type MetricsSnapshot, type WoollyServer } from "../src/node.js";
import { fakeClock, requestLog, withTemplate } from "./helpers/server.js";

let model: Model;
let server: WoollyServer;
let base: string;
const time = fakeClock();
const log = requestLog();

beforeAll(async () => {
  model = await loadModel(withTemplate("stories260K-Q8_0.gguf", CHATML_TEMPLATE), { contextLength: 256 });
  server = createServer(model, { modelId: "m", maxQueue: 5, clock: time.clock, onLog: log.onLog });
  const { port } = await server.listen(0, "127.0.0.1");
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await server.close();
  model.dispose();
});

const PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";
// What Prometheus 2.x/3.x sends when it scrapes.
const SCRAPER_ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

describe("the text format", () => {
  it("renders HELP, TYPE and samples, escaping label values and help text", () => {
    const text = renderPrometheus([
      { name: "a_total", help: 'Things "counted".\nTwo lines \\ one slash.', type: "counter", samples: [{ value: 3 }] },
      {
        name: "b",
        help: "A gauge.",
        type: "gauge",
        samples: [
          { labels: { path: 'say "hi"\\now\nthen', kind: "x" }, value: 1.5 },
          { labels: {}, value: Number.NaN },
          { value: Infinity },
        ],
      },
      { name: "c_total", help: "Nothing yet.", type: "counter", samples: [] },
    ]);
    expect(text).toBe(
      [
        '# HELP a_total Things "counted".\\nTwo lines \\\\ one slash.',
        "# TYPE a_total counter",
        "a_total 3",
        "# HELP b A gauge.",
        "# TYPE b gauge",
        'b{path="say \\"hi\\"\\\\now\\nthen",kind="x"} 1.5',
        "b NaN",
        "b +Inf",
        "# HELP c_total Nothing yet.",
        "# TYPE c_total counter",
        "",
      ].join("\n"),
    );
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it("refuses names the format cannot carry", () => {
    expect(() => renderPrometheus([{ name: "bad-name", help: "", type: "gauge", samples: [] }])).toThrow(/invalid metric name/);
    expect(() => renderPrometheus([{ name: "ok", help: "", type: "gauge", samples: [{ labels: { "0x": "v" }, value: 1 }] }])).toThrow(/invalid label name/);
  });
});

describe("GET /metrics", () => {
  it("a fresh server's text, exactly", async () => {
    const r = await fetch(`${base}/metrics?format=prometheus`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe(PROMETHEUS);
    expect(await r.text()).toBe(
      [
        "# HELP woolly_requests_total Requests answered, by endpoint and HTTP status (499: the client left first).",
        "# TYPE woolly_requests_total counter",
        "# HELP woolly_errors_total Requests answered with an error, by kind.",
        "# TYPE woolly_errors_total counter",
        "# HELP woolly_queue_rejected_total Requests refused with 503 because the queue was full.",
        "# TYPE woolly_queue_rejected_total counter",
        "woolly_queue_rejected_total 0",
        "# HELP woolly_prompt_tokens_total Prompt tokens of finished generations.",
        "# TYPE woolly_prompt_tokens_total counter",
        "woolly_prompt_tokens_total 0",
        "# HELP woolly_prompt_tokens_cached_total Prompt tokens reused from the KV cache instead of computed.",
        "# TYPE woolly_prompt_tokens_cached_total counter",
        "woolly_prompt_tokens_cached_total 0",
        "# HELP woolly_tokens_generated_total Tokens generated.",
        "# TYPE woolly_tokens_generated_total counter",
        "woolly_tokens_generated_total 0",
        "# HELP woolly_prefill_tokens_per_second Prompt processing speed: the last request's, and token-weighted over all requests.",
        "# TYPE woolly_prefill_tokens_per_second gauge",
        'woolly_prefill_tokens_per_second{window="last"} 0',
        'woolly_prefill_tokens_per_second{window="all"} 0',
        "# HELP woolly_decode_tokens_per_second Generation speed: the last request's, and token-weighted over all requests.",
        "# TYPE woolly_decode_tokens_per_second gauge",
        'woolly_decode_tokens_per_second{window="last"} 0',
        'woolly_decode_tokens_per_second{window="all"} 0',
        "# HELP woolly_queue_depth Requests waiting for the model.",
        "# TYPE woolly_queue_depth gauge",
        "woolly_queue_depth 0",
        "# HELP woolly_queue_capacity Requests that may wait before new ones are refused.",
        "# TYPE woolly_queue_capacity gauge",
        "woolly_queue_capacity 5",
        "# HELP woolly_requests_processing Requests holding the model (0 or 1).",
        "# TYPE woolly_requests_processing gauge",
        "woolly_requests_processing 0",
        "# HELP woolly_uptime_seconds Seconds since the server was created.",
        "# TYPE woolly_uptime_seconds gauge",
        "woolly_uptime_seconds 0",
        "",
      ].join("\n"),
    );
  });

  it("negotiates: JSON by default and when asked, text for text/plain, a scraper's Accept, or ?format=prometheus", async () => {
    const kind = async (path: string, accept?: string): Promise<string | null> =>
      (await fetch(base + path, { headers: accept === undefined ? {} : { Accept: accept } })).headers.get("content-type");
    expect(await kind("/metrics")).toBe("application/json");
    expect(await kind("/metrics", "*/*")).toBe("application/json");
    expect(await kind("/metrics", "application/json")).toBe("application/json");
    expect(await kind("/metrics", "text/plain")).toBe(PROMETHEUS);
    expect(await kind("/metrics", SCRAPER_ACCEPT)).toBe(PROMETHEUS);
    expect(await kind("/metrics?format=prometheus", "application/json")).toBe(PROMETHEUS);
    expect(await kind("/metrics?format=json", "text/plain")).toBe("application/json");
  });

  it("counts requests by endpoint and status, errors by kind, and tokens, in both formats alike", async () => {
    const before = log.count();
    const r = await fetch(`${base}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ prompt: "Once upon a time", max_tokens: 7, temperature: 0, ignore_eos: true }),
    });
    const usage = ((await r.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    expect(usage.completion_tokens).toBe(7);
    expect((await fetch(`${base}/v1/completions`, { method: "POST", body: "{" })).status).toBe(400);
    expect((await fetch(`${base}/nowhere?x="1"`)).status).toBe(404);
    await log.lines(before + 3);
    time.advance(2500);

    const json = (await (await fetch(`${base}/metrics`)).json()) as MetricsSnapshot;
    expect(json.requests["/v1/completions"]).toEqual({ "200": 1, "400": 1 });
    expect(json.requests.other).toEqual({ "404": 1 });
    expect(json.errors).toEqual({ invalid_request: 1, not_found: 1 });
    expect(json.tokens_generated_total).toBe(7);
    expect(json.prompt_tokens_total).toBe(usage.prompt_tokens);
    expect(json.uptime_seconds).toBe(3);

    const text = await (await fetch(`${base}/metrics`, { headers: { Accept: "text/plain" } })).text();
    const lines = text.split("\n");
    expect(lines).toContain('woolly_requests_total{endpoint="/v1/completions",status="200"} 1');
    expect(lines).toContain('woolly_requests_total{endpoint="/v1/completions",status="400"} 1');
    expect(lines).toContain('woolly_requests_total{endpoint="other",status="404"} 1');
    // The JSON scrape above has finished and is counted; this one is not yet.
    expect(lines.filter((l) => l.startsWith('woolly_requests_total{endpoint="/metrics"'))).toHaveLength(1);
    expect(lines).toContain('woolly_errors_total{kind="invalid_request"} 1');
    expect(lines).toContain('woolly_errors_total{kind="not_found"} 1');
    expect(lines).toContain("woolly_tokens_generated_total 7");
    expect(lines).toContain(`woolly_prompt_tokens_total ${usage.prompt_tokens}`);
    expect(lines).toContain("woolly_uptime_seconds 3");
    const decode = /^woolly_decode_tokens_per_second\{window="all"\} (\S+)$/m.exec(text);
    expect(Number(decode?.[1])).toBe(json.decode_tokens_per_second.avg);
    expect(Number(decode?.[1])).toBeGreaterThan(0);
    // Every sample line is `name{labels} number`, and every family is announced before its samples.
    for (const l of lines.filter((l) => l !== "" && !l.startsWith("#"))) {
      expect(l).toMatch(/^woolly_[a-z_]+(\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})? -?[0-9.e+]+$/);
      expect(lines.indexOf(`# TYPE ${l.split(/[{ ]/)[0]} ${l.split(/[{ ]/)[0].endsWith("_total") ? "counter" : "gauge"}`)).toBeLessThan(lines.indexOf(l));
    }
  });
});
