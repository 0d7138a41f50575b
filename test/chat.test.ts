// model.chat: templates from the GGUF (re-written fixtures), the ChatML fallback, BOS handling,
// template errors, and KV-cache reuse across turns.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgufValueType } from "../src/gguf/index.js";
import { loadModel, type Model } from "../src/index.js";
import { ChatError, chatPrompt, type ChatMessage } from "../src/chat/index.js";
import { rewriteFixture } from "./helpers/fixtures.js";

/** Llama 2's Hugging Face template: BOS before each user turn, EOS after each reply, alternation enforced. */
const LLAMA2_TEMPLATE =
  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
  "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}" +
  "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
  "{% else %}{% set content = message['content'] %}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

/** The fixture's bytes with `tokenizer.chat_template` set (or left out when `template` is undefined). */
function withTemplate(file: string, template: string | undefined): Uint8Array {
  return rewriteFixture(file, (metadata) => {
    if (template !== undefined) metadata.set("tokenizer.chat_template", { type: GgufValueType.STRING, value: template });
  });
}

const FIXTURE = "stories260K-Q8_0.gguf";
let llama2: Model;
let plain: Model;

beforeAll(async () => {
  llama2 = await loadModel(withTemplate(FIXTURE, LLAMA2_TEMPLATE), { contextLength: 512 });
  plain = await loadModel(withTemplate(FIXTURE, undefined), { contextLength: 512 });
});
afterAll(() => {
  llama2.dispose();
  plain.dispose();
});

const conversation: ChatMessage[] = [
  { role: "system", content: "You tell short stories." },
  { role: "user", content: "Tell me about a cat." },
];

describe("rendering", () => {
  it("uses the model's template, with exactly one BOS", () => {
    const p = chatPrompt(llama2, conversation);
    expect(p.template).toBe("model");
    // The tokenizer adds BOS itself, so the template's leading BOS text is cut (as llama.cpp does).
    expect(p.text).toBe("[INST] <<SYS>>\nYou tell short stories.\n<</SYS>>\n\nTell me about a cat. [/INST]");
    const bos = llama2.tokenizer.bos;
    expect(p.tokens[0]).toBe(bos);
    expect(p.tokens[1]).not.toBe(bos);
    expect(p.tokens.filter((t) => t === bos)).toHaveLength(1);
  });

  it("later turns keep the BOS and EOS tokens the template writes between messages", () => {
    const p = chatPrompt(llama2, [...conversation, { role: "assistant", content: "Once there was a cat." }, { role: "user", content: "More." }]);
    const tk = llama2.tokenizer;
    expect(p.tokens.filter((t) => t === tk.bos)).toHaveLength(2);
    expect(p.tokens.filter((t) => t === tk.eos)).toHaveLength(1);
  });

  it("falls back to ChatML when the model has no template, and says so", () => {
    const p = chatPrompt(plain, conversation);
    expect(p.template).toBe("chatml");
    expect(p.text).toBe("<|im_start|>system\nYou tell short stories.<|im_end|>\n<|im_start|>user\nTell me about a cat.<|im_end|>\n<|im_start|>assistant\n");
    expect(chatPrompt(llama2, conversation, { template: "chatml" }).text).toBe(p.text);
    expect(p.tokens[0]).toBe(plain.tokenizer.bos);
  });

  it("template: 'model' on a model without one is ChatError('no_template')", () => {
    expect(() => chatPrompt(plain, conversation, { template: "model" })).toThrow(expect.objectContaining({ kind: "no_template" }));
  });

  it("a template that refuses the messages is ChatError('template_render') with its reason", () => {
    let err: unknown;
    try {
      llama2.chat([{ role: "user", content: "a" }, { role: "user", content: "b" }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ChatError);
    expect((err as ChatError).kind).toBe("template_render");
    expect((err as ChatError).message).toMatch(/roles must alternate/);
  });

  it("a template that does not parse is ChatError('template_syntax')", async () => {
    const broken = await loadModel(withTemplate(FIXTURE, "{% for m in messages %}{{ m.content }"), { contextLength: 64 });
    try {
      expect(() => broken.chat(conversation)).toThrow(expect.objectContaining({ kind: "template_syntax" }));
    } finally {
      broken.dispose();
    }
  });

  it("malformed messages are ChatError('bad_messages') naming the message", () => {
    const bad = (m: unknown, re: RegExp): void => {
      expect(() => chatPrompt(plain, m as ChatMessage[])).toThrow(re);
    };
    bad([], /non-empty array/);
    bad([{ role: "robot", content: "x" }], /messages\[0\]\.role/);
    bad([{ role: "user", content: "x" }, { role: "user", content: 3 }], /messages\[1\]\.content must be a string/);
    bad([null], /messages\[0\] must be an object/);
  });
});

describe("generation", () => {
  it("streams like generate: the pieces are the result's text", async () => {
    const g = llama2.chat(conversation, { maxTokens: 24, temperature: 0 });
    expect(g.template).toBe("model");
    let text = "";
    for await (const piece of g) text += piece;
    const r = await g.result;
    expect(text).toBe(r.text);
    expect(r.promptTokens).toBe(g.promptTokens.length);
    expect(r.tokens.length).toBeGreaterThan(0);
  });

  it("is generate() on the rendered prompt's tokens", async () => {
    const g = llama2.chat(conversation, { maxTokens: 16, temperature: 0 });
    let text = "";
    for await (const p of g) text += p;
    const direct = await llama2.complete(g.promptTokens, { maxTokens: 16, temperature: 0 });
    expect(text).toBe(direct.text);
  }, 60_000);

  it("a second turn reuses the KV cache for the whole first turn's prompt", async () => {
    const first = llama2.chat(conversation, { maxTokens: 12, temperature: 0 });
    let reply = "";
    for await (const p of first) reply += p;
    const r1 = await first.result;
    const second = llama2.chat([...conversation, { role: "assistant", content: reply }, { role: "user", content: "And then?" }], {
      maxTokens: 8,
      temperature: 0,
    });
    expect(second.promptTokens.slice(0, first.promptTokens.length)).toEqual(first.promptTokens);
    for await (const _p of second) {
      // drained into the result
    }
    const r2 = await second.result;
    expect(r2.cachedTokens).toBeGreaterThanOrEqual(r1.promptTokens);
    expect(r2.timings.prefillTokens).toBe(r2.promptTokens - r2.cachedTokens);
  }, 60_000);

  it("ChatML without an <|im_end|> token stops on the text <|im_end|>", async () => {
    const g = plain.chat(conversation, { maxTokens: 48, temperature: 0 });
    expect(g.template).toBe("chatml");
    const r = await collect(g);
    expect(r.text).not.toContain("<|im_end|>");
  });

  it("an aborted signal ends the reply with finish 'aborted'", async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await collect(llama2.chat(conversation, { maxTokens: 16, signal: ac.signal }));
    expect(r.finishReason).toBe("aborted");
  });
});

async function collect(g: AsyncIterable<string> & { result: Promise<{ text: string; finishReason: string }> }): Promise<{ text: string; finishReason: string }> {
  for await (const _p of g) {
    // collected into result.text
  }
  return g.result;
}
