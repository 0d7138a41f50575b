// Special tokens written in the text (llama.cpp's tokenizer_st_partition): before tokenizing, the text
// is cut at every occurrence of a special token's text, longest tokens first, and each occurrence
// becomes that token. Control and unknown tokens are matched only with parseSpecial; user-defined
// tokens always are (as Hugging Face tokenizers do). LSTRIP/RSTRIP tokens eat the ASCII whitespace
// beside them.

import { Attr, type Vocab } from "./vocab.js";

export type Fragment =
  | { readonly kind: "text"; readonly start: number; readonly end: number }
  | { readonly kind: "token"; readonly id: number };

/** C's isspace: the whitespace LSTRIP/RSTRIP remove. */
function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

export function partition(vocab: Vocab, text: string, parseSpecial: boolean): Fragment[] {
  if (text.length === 0) return [];
  let frags: Fragment[] = [{ kind: "text", start: 0, end: text.length }];
  for (const id of vocab.specialTokens) {
    const attr = vocab.attrs[id];
    if (!parseSpecial && attr & (Attr.CONTROL | Attr.UNKNOWN)) continue;
    const tok = vocab.texts[id];
    const next: Fragment[] = [];
    for (const f of frags) {
      if (f.kind === "token") {
        next.push(f);
        continue;
      }
      let pos = f.start;
      for (;;) {
        const m = text.indexOf(tok, pos);
        if (m === -1 || m + tok.length > f.end) {
          if (pos < f.end) next.push({ kind: "text", start: pos, end: f.end });
          break;
        }
        let leftEnd = m;
        if (attr & Attr.LSTRIP) while (leftEnd > pos && isCSpace(text.charCodeAt(leftEnd - 1))) leftEnd--;
        if (leftEnd > pos) next.push({ kind: "text", start: pos, end: leftEnd });
        next.push({ kind: "token", id });
        pos = m + tok.length;
        if (attr & Attr.RSTRIP) while (pos < f.end && isCSpace(text.charCodeAt(pos))) pos++;
        if (pos >= f.end) break;
      }
    }
    frags = next;
  }
  return frags;
}
