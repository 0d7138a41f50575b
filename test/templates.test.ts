// Chat templates against Python's jinja2: 70 real templates × 5 conversations from the shared
// fixtures (expected.json is what jinja2 3.1.6 renders under transformers' apply_chat_template),
// jinja2 semantics beyond them, the fixed clock, message shapes, and `woolly template`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChatError, ChatTemplate, chatPrompt, type ChatMessage, type ChatTool } from "../src/chat/index.js";
import { main } from "../src/cli/main.js";
import { GgufValueType } from "../src/gguf/index.js";
import { loadModel, type Model } from "../src/index.js";
import { FIXTURES, rewriteFixture } from "./helpers/fixtures.js";

const DIR = join(FIXTURES, "templates");

interface Conversation {
  readonly messages: ChatMessage[];
  readonly tools?: ChatTool[];
  readonly add_generation_prompt?: boolean;
  readonly context?: Record<string, unknown>;
}
type Outcome = { readonly text: string } | { readonly error: string } | { readonly skip: string };

const conversations = JSON.parse(readFileSync(join(DIR, "conversations.json"), "utf8")) as Record<string, Conversation>;
const expected = JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8")) as {
  readonly now: string;
  readonly templates: Record<string, Record<string, Outcome>>;
};
/** The reference's clock: 2026-01-15T09:30:00, local time (Python's naive datetime.now()). */
const NOW = new Date(expected.now);

const pairs: [string, string, Exclude<Outcome, { skip: string }>][] = [];
let skipped = 0;
for (const [template, outcomes] of Object.entries(expected.templates)) {
  for (const [conversation, outcome] of Object.entries(outcomes)) {
    if ("skip" in outcome) skipped++; // jinja2 itself failed: there is nothing to compare with
    else pairs.push([template, conversation, outcome]);
  }
}

const parsed = new Map<string, ChatTemplate>();
function renderFixture(template: string, name: string): string {
  let t = parsed.get(template);
  if (!t) parsed.set(template, (t = new ChatTemplate(readFileSync(join(DIR, template), "utf8"), "model")));
  const c = conversations[name];
  return t.render(c.messages, { bos: "<BOS>", eos: "<EOS>" }, { addGenerationPrompt: c.add_generation_prompt, tools: c.tools, variables: c.context, now: NOW });
}

function raisedBy(f: () => unknown): ChatError {
  try {
    f();
  } catch (e) {
    if (e instanceof ChatError) return e;
    throw e;
  }
  throw new Error("expected a ChatError, but nothing was thrown");
}

describe("70 real templates render exactly as jinja2 does", () => {
  it("compares 343 renderings (7 pairs are jinja2 failures with no reference)", () => {
    expect(Object.keys(expected.templates)).toHaveLength(70);
    expect(pairs).toHaveLength(343);
    expect(skipped).toBe(7);
    expect(pairs.filter(([, , o]) => "error" in o)).toHaveLength(2);
  });

  it.each(pairs)("%s × %s", (template, conversation, outcome) => {
    if ("text" in outcome) {
      expect(renderFixture(template, conversation)).toBe(outcome.text);
    } else {
      const err = raisedBy(() => renderFixture(template, conversation));
      expect(err.kind).toBe("template_render");
      expect(err.raised).toBe(outcome.error);
      expect(err.message).toContain(outcome.error);
    }
  });
});

function render(source: string, variables: Record<string, unknown> = {}, now = NOW): string {
  return new ChatTemplate(source, "model").render([{ role: "user", content: "hi" }], { bos: "", eos: "" }, { variables, now });
}

describe("jinja2 semantics beyond the fixtures (expected values from jinja2 3.1.6)", () => {
  const d = { d: { a: 1, b: "two" } };
  it.each([
    ["{{ none }}|{{ true }}|{{ 1.0 }}|{{ 0.00001 }}|{{ [1, 'a', none, true] }}|{{ {'a': 1, 'b': [2]} }}|{{ (1, 2) }}", "None|True|1.0|1e-05|[1, 'a', None, True]|{'a': 1, 'b': [2]}|(1, 2)"],
    ["{{ u }}|{{ u is defined }}|{{ none is defined }}|{{ u is iterable }}|{{ none is iterable }}|{{ true is number }}", "|False|True|True|False|True"],
    [
      "{{ {'b': 1, 'a': 'é'}|tojson }}|{{ {'b': 1, 'a': 'é'}|tojson(indent=2, sort_keys=true) }}|{{ [1,[2,{}],[]]|tojson(indent=0) }}|{{ 'é'|tojson(ensure_ascii=true) }}|{{ {'a':1}|tojson(separators=(',', ':')) }}",
      '{"b": 1, "a": "é"}|{\n  "a": "é",\n  "b": 1\n}|[\n1,\n[\n2,\n{}\n],\n[]\n]|"\\u00e9"|{"a":1}',
    ],
    ["{{ 'a'|safe + '<b>' + \"'\" }}|{{ '<'|e }}|{{ ('x'|safe ~ '<') }}", "a&lt;b&gt;&#39;|&lt;|x<"],
    ["{% for k in {'b':1,'a':2} %}{{ k }}{% endfor %}|{% for k, v in {2: 'x', 10: 'y'}|dictsort %}{{ k }}={{ v }},{% endfor %}|{% for c in 'abc' %}{{ c }}.{% endfor %}|{% for x in u %}x{% else %}empty{% endfor %}", "ba|2=x,10=y,|a.b.c.|empty"],
    ["{{ 'abc' < 'abd' }}|{{ [1,2] == [1,2] }}|{{ '1' == 1 }}|{{ true == 1 }}|{{ 'a' in {'a':1} }}|{{ 'b' in 'abc' }}", "True|True|False|True|True|True"],
    ["{{ '-' * 3 }}|{{ 'Hello {}, {name}!'.format('x', name='y') }}|{{ 'xxhixx'.strip('x') }}|{{ 'aBC'.capitalize() }}|{{ 'a,b,c'.split(',') }}", "---|Hello x, y!|hi|Abc|['a', 'b', 'c']"],
    ["{{ 'a\nb\n'|indent(2) }}|{{ ['b','A','a']|unique|list }}|{{ [{'n':'x'},{'m':1}]|selectattr('n','defined')|list }}|{{ ['a','B']|map('upper')|list }}", "a\n  b\n|['b', 'A']|[{'n': 'x'}]|['A', 'B']"],
    ["{{ d.items() }}|{{ d.get('zz', 5) }}|{{ d.keys()|list }}|{{ 'héllo😀'|length }}|{{ {'k': none}|string }}|{{ [\"it's\", 'a\"b'] }}", "dict_items([('a', 1), ('b', 'two')])|5|['a', 'b']|6|{'k': None}|[\"it's\", 'a\"b']"],
    ["{{ strftime_now('%A %a %d %B %Y %H:%M:%S %I %p %j %y') }}", "Thursday Thu 15 January 2026 09:30:00 09 AM 015 26"],
    [
      "{% for x in [1,2,3] %}{{ loop.cycle('a','b') }}{% endfor %}|{{ '%s=%d|%05.1f|%-4s|%r|%x|%%' % ('k', 3.9, 2.25, 'ab', 'q', 255) }}|{{ 'v%s'|format(2) }}|{{ [1,2,3]|sum }}|{{ 'a b c'.rsplit(' ', 1) }}",
      "aba|k=3|002.2|ab  |'q'|ff|%|v2|6|['a b', 'c']",
    ],
    [
      "{{ 3 is divisibleby 3 }}|{{ 3 is divisibleby(2) }}|{{ 'a' is in ['a'] }}|{{ x is sameas false }}|{{ 1 is not eq 2 }}|{{ [1]|first is sameas 1 }}|{{ 'a' if none is not none else 'b' }}|{{ d.a is in [1, 2] }}|{{ 4 is not divisibleby 3 }}",
      "True|False|True|False|True|True|b|True|True",
    ],
    ["{{ '\x1c a \x85'.strip()|length }}|{{ '\ufeffx'.strip()|length }}|{{ 'xyhixy'.strip('yx') }}|{{ '😀a😀'.strip('😀') }}", "1|2|hi|a"],
    ["{{ ('x',) }}|{{ (1, 2,) }}|{{ 'ab'.startswith(('a',)) }}|{{ [(1,), (2,)] }}|{{ 'ab'.replace('a', 'c',) }}", "('x',)|(1, 2)|True|[(1,), (2,)]|cb"],
    ["{{ 1e3 }}|{{ 1.5e-3 }}|{{ 2E+2 }}|{{ 1e20 }}|{{ 3 - 1 }}|{{ [1e2, 5] }}", "1000.0|0.0015|200.0|1e+20|2|[100.0, 5]"],
    [
      "{{ '{:>5}|{:<4}|{:^7}|{:*^7}|{:05d}|{:+d}|{:,}|{:.2f}|{:.1%}|{:x}|{:e}|{:.3}|{!r:>6}|{:08.3f}|{}'.format('a', 'b', 'c', 'd', 42, 7, 1234567, 3.14159, 0.256, 255, 12345.678, 'abcdef', 'q', -3.5, 2.0) }}",
      "    a|b   |   c   |***d***|00042|+7|1,234,567|3.14|25.6%|ff|1.234568e+04|abc|   'q'|-003.500|2.0",
    ],
    ["{{ -7 % 3 }}|{{ 7 % -3 }}|{{ -7.5 % 2 }}|{{ -7 // 2 }}|{{ 1 / 2 }}|{{ range(100000)|length }}", "2|-2|0.5|-4|0.5|100000"],
  ])("%s", (source, text) => {
    expect(render(source, d)).toBe(text);
  });

  it.each([
    ["{{ range(100001)|length }}", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000)."],
    ["{{ 1 / 0 }}", "division by zero"],
    ["{{ none + 'a' }}", "unsupported operand type(s) for +: 'NoneType' and 'str'"],
    ["{{ x.y }}", "cannot read 'y' of an undefined value"],
  ])("%s fails as in jinja2's sandbox", (source, message) => {
    const err = raisedBy(() => render(source));
    expect(err.kind).toBe("template_render");
    expect(err.raised).toBeUndefined();
    expect(err.message).toContain(message);
  });

  it("reads \\r\\n line ends as \\n, trim_blocks and lstrip_blocks included", () => {
    expect(render("line1\r\n  {% if true %}\r\n  in\r\n  {% endif %}\r\nline2")).toBe("line1\n  in\nline2");
  });

  it.each([
    ["a\n  {% raw %}\nX{{y}}\n  {% endraw %}\nb", "a\n\nX{{y}}\nb"],
    ["a {%- raw -%}  X  {%- endraw -%} b", "aXb"],
    ["{% raw %}{% if %}'\"\\{# c #}%}{% endraw %}|{{ 1 }}", "{% if %}'\"\\{# c #}%}|1"],
    ["a\n  {% if true +%}\nb\n  {%+ endif %}\nc", "a\n\nb\n  c"],
  ])("whitespace and raw blocks as jinja2: %j", (source, text) => {
    expect(render(source)).toBe(text);
  });

  it("{% generation %} renders its body", () => {
    expect(render("{% for m in messages %}{% generation %}[{{ m.content }}]{% endgeneration %}{% endfor %}")).toBe("[hi]");
  });

  it("a template cannot reach the caller's objects: the variables are copied in", () => {
    const tools: ChatTool[] = [{ type: "function", function: { name: "f" } }];
    const t = new ChatTemplate("{% set x = tools[0].function.update({'name': 'g'}) %}{{ tools[0].function.name }}", "model");
    expect(() => t.render([{ role: "user", content: "hi" }], { bos: "", eos: "" }, { tools })).toThrow(ChatError);
    expect(tools[0].function.name).toBe("f");
  });
});

describe("the clock of strftime_now", () => {
  const DATE = "{{ strftime_now('%Y-%m-%d %H:%M') }}";
  it("is the `now` option when given", () => {
    expect(render(DATE, {}, new Date(2030, 4, 6, 7, 8))).toBe("2030-05-06 07:08");
  });

  it("is the current time by default", () => {
    const stamp = (d: Date): string => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")} ${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
    const before = stamp(new Date());
    const text = new ChatTemplate(DATE, "model").render([{ role: "user", content: "hi" }], { bos: "", eos: "" });
    const after = stamp(new Date());
    expect([before, after]).toContain(text);
  });

  describe("through ChatOptions.now", () => {
    let model: Model;
    beforeAll(async () => {
      const bytes = rewriteFixture("stories260K-Q8_0.gguf", (metadata) => {
        metadata.set("tokenizer.chat_template", { type: GgufValueType.STRING, value: "Today is {{ strftime_now('%d %b %Y') }}. {{ messages[0].content }}" });
      });
      model = await loadModel(bytes, { contextLength: 64 });
    });
    afterAll(() => model.dispose());

    it("fixes the date a model's template prints", () => {
      const p = chatPrompt(model, [{ role: "user", content: "Hello" }], { now: new Date(2026, 0, 15, 9, 30) });
      expect(p.text).toBe("Today is 15 Jan 2026. Hello");
    });
  });
});

describe("messages with tool calls and tool results", () => {
  const QWEN = new ChatTemplate(readFileSync(join(DIR, "Qwen-Qwen2.5-7B-Instruct.jinja"), "utf8"), "model");
  const tools: ChatTool[] = [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
  const turn: ChatMessage[] = [
    { role: "user", content: "Weather in Paris?" },
    { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }] },
    { role: "tool", tool_call_id: "c1", name: "get_weather", content: "18 C" },
  ];

  it("render as jinja2 renders them (Qwen 2.5; reference from jinja2 3.1.6)", () => {
    expect(QWEN.render(turn, { bos: "", eos: "" }, { tools, addGenerationPrompt: true })).toBe(
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
        'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}\n</tools>\n\n' +
        'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
        "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n" +
        '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n18 C\n</tool_response><|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it("are checked strictly, naming the fault", () => {
    const bad = (messages: unknown, re: RegExp): void => {
      const err = raisedBy(() => QWEN.render(messages as ChatMessage[], { bos: "", eos: "" }));
      expect(err.kind).toBe("bad_messages");
      expect(err.message).toMatch(re);
    };
    bad([{ role: "user", content: null }], /messages\[0\]\.content must be a string; got null/);
    bad([{ role: "user", content: "x", tool_calls: [] }], /messages\[0\]\.tool_calls is for assistant messages only/);
    bad([{ role: "assistant", content: null, tool_calls: [{ function: { name: "f" } }] }], /tool_calls\[0\]\.function\.arguments must be JSON text or an object/);
    bad([{ role: "user", content: "x", tool_call_id: "c1" }], /messages\[0\]\.tool_call_id must be a string, on a tool message/);
    bad([{ role: "user", content: "x", weight: 1 }], /messages\[0\] has an unknown field "weight"/);
    const badTools = raisedBy(() => QWEN.render([{ role: "user", content: "x" }], { bos: "", eos: "" }, { tools: [{ type: "function" }] as unknown as ChatTool[] }));
    expect(badTools.kind).toBe("bad_messages");
    expect(badTools.message).toMatch(/tools\[0\] must be \{ type: "function", function: \{ name, … \} \}/);
  });
});

describe("woolly template", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "woolly-template-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await main(["template", ...argv], { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  }
  const CONVERSATIONS = join(DIR, "conversations.json");
  const FIXED = ["--bos", "<BOS>", "--eos", "<EOS>", "--now", "2026-01-15T09:30"];

  it("prints exactly the rendering of a named conversation, no newline added", async () => {
    const r = await run(join(DIR, "meta-llama-Llama-3.2-3B-Instruct.jinja"), "--conversation", CONVERSATIONS, "--name", "tools_offered", ...FIXED);
    expect(r).toEqual({ code: 0, out: (expected.templates["meta-llama-Llama-3.2-3B-Instruct.jinja"].tools_offered as { text: string }).text, err: "" });
  });

  it("--index picks from an array; a file of one conversation needs no pick", async () => {
    const array = join(dir, "array.json");
    writeFileSync(array, JSON.stringify([conversations.single_user, conversations.no_generation_prompt]));
    const one = join(dir, "one.json");
    writeFileSync(one, JSON.stringify(conversations.no_generation_prompt));
    const template = join(DIR, "Qwen-Qwen3-0.6B.jinja");
    const want = (expected.templates["Qwen-Qwen3-0.6B.jinja"].no_generation_prompt as { text: string }).text;
    expect((await run(template, "--conversation", array, "--index", "1", ...FIXED)).out).toBe(want);
    expect((await run(template, "--conversation", one, ...FIXED)).out).toBe(want);
    expect(await run(template, "--conversation", array)).toMatchObject({ code: 1, out: "", err: expect.stringMatching(/--index\/--name must be given: the file holds 2 conversations/) });
  });

  it("a template's own raise_exception exits 1 with its message on stderr", async () => {
    const r = await run(join(DIR, "google-gemma-2-2b-it.jinja"), "--conversation", CONVERSATIONS, "--name", "system_multi_turn");
    expect(r).toEqual({ code: 1, out: "", err: "System role not supported\n" });
  });

  it("reads a GGUF's template, with its own BOS and EOS texts", async () => {
    const gguf = join(dir, "model.gguf");
    writeFileSync(
      gguf,
      rewriteFixture("stories260K-Q8_0.gguf", (metadata) => {
        metadata.set("tokenizer.chat_template", { type: GgufValueType.STRING, value: "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}" });
      }),
    );
    const r = await run(gguf, "--conversation", CONVERSATIONS, "--name", "single_user");
    expect(r).toEqual({ code: 0, out: "<s>[user] Hello! Who are you?</s>", err: "" });
  });

  it("usage errors name the missing piece", async () => {
    expect(await run(join(DIR, "google-gemma-2-2b-it.jinja"))).toMatchObject({ code: 1, err: expect.stringMatching(/--conversation must be a JSON file/) });
    expect(await run(join(dir, "missing.jinja"), "--conversation", CONVERSATIONS, "--index", "0")).toMatchObject({ code: 1, err: expect.stringMatching(/TEMPLATE must be a readable file/) });
  });
});

describe("untrusted templates are stopped, not run forever", () => {
  const render = (source: string) => new ChatTemplate(source, "model").render([{ role: "user", content: "hi" }], { bos: "", eos: "" });
  it.each([
    ["nested loops of a million million steps", "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}", /more than 1000000 steps/],
    ["a string doubled until it is huge", "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}", /more than 16777216 characters/],
    ["output that grows without end", "{% for i in range(100000) %}{{ 'y' * 100000 }}{% endfor %}", /output passed 16777216 characters/],
  ])("%s", (_, source, message) => {
    let err: unknown;
    try {
      render(source);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ChatError);
    expect((err as ChatError).kind).toBe("template_render");
    expect((err as Error).message).toMatch(message);
  });
});
