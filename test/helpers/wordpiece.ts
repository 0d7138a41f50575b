// An independent model of what WordPiece (BERT) keeps of a text, for checking decoded output:
// Unicode NFD with combining marks, control and format characters removed, lower case, whitespace
// between words, and every punctuation mark, ASCII symbol and CJK ideograph a word of its own.
//
// Whole-string NFD is enough for the fixture inputs; llama.cpp keeps only the first code point of each
// character's NFD, which differs for Hangul syllables (it keeps the leading jamo alone).

const SINGLE = "\\p{P}$+<=>^`|~\\p{Unified_Ideograph}";
const WORDS = new RegExp(`[${SINGLE}]|[^\\s${SINGLE}]+`, "gu");

export function bertWords(text: string): string[] {
  const kept = text
    .normalize("NFD")
    .replace(/[\p{M}\p{Cc}\p{Cf}\uFFFD]/gu, (c) => (/\s/u.test(c) ? c : ""))
    .toLowerCase();
  return kept.match(WORDS) ?? [];
}
