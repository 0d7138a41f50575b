// GBNF parsing: llama.cpp's syntax and rule rewriting (generated rule names as llama.cpp's parser
// gives them), grammars adapted from llama.cpp's grammars/ folder, and errors with positions.

import { describe, expect, it } from "vitest";
import { compileGrammar, GrammarError, type GrammarErrorKind } from "../src/grammar/index.js";
import { matches } from "./helpers/grammar.js";

function expectError(text: string, kind: GrammarErrorKind, line: number, column: number, fragment: string): GrammarError {
  let err: unknown;
  try {
    compileGrammar(text);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GrammarError);
  const g = err as GrammarError;
  expect(g.kind).toBe(kind);
  expect([g.line, g.column]).toEqual([line, column]);
  expect(g.message).toContain(fragment);
  return g;
}

describe("GBNF rewriting matches llama.cpp's parser", () => {
  it("repetitions and groups become generated rules named base_N", () => {
    expect(compileGrammar('root ::= "a"+').toString()).toBe("root ::= [a] root_1\nroot_1 ::= [a] root_1 |\n");
    expect(compileGrammar('root ::= a?\na ::= "a"').toString()).toBe("root ::= root_2\na ::= [a]\nroot_2 ::= a |\n");
    expect(compileGrammar('root ::= a*\na ::= "a"').toString()).toBe("root ::= root_2\na ::= [a]\nroot_2 ::= a root_2 |\n");
    expect(compileGrammar('root ::= "a"{2,4}').toString()).toBe("root ::= [a] [a] root_2\nroot_1 ::= [a] |\nroot_2 ::= [a] root_1 |\n");
    expect(compileGrammar('root ::= "a"{2,}').toString()).toBe("root ::= [a] [a] root_1\nroot_1 ::= [a] root_1 |\n");
    expect(compileGrammar('root ::= ("x" | [0-9a-f])').toString()).toBe("root ::= root_1\nroot_1 ::= [x] | [0-9a-f]\n");
    expect(compileGrammar('root ::= [^\\n\\x41-\\u005A\\U0001F600]').toString()).toBe("root ::= [^\\u000aA-Z\\U0001f600]\n");
  });

  it("comments, blank lines, CRLF, newlines inside groups and after |", () => {
    const g = compileGrammar('# header\r\nroot ::= ( "a" # inner\n  "b" ) |\r\n   "c"   # trailing\n\n\nother ::= "x"\n');
    // as in llama.cpp, a rule's top-level alternation cannot start a line
    expect(() => compileGrammar('root ::= "a"\n  | "c"')).toThrow(expect.objectContaining({ kind: "syntax", line: 2, column: 3 }));
    expect(matches(g, "ab")).toBe(true);
    expect(matches(g, "c")).toBe(true);
    expect(matches(g, "a")).toBe(false);
  });

  it("escapes in literals and classes", () => {
    const g = compileGrammar('root ::= "\\x41\\u00e9\\U0001F600\\t\\"\\\\" [\\[\\]\\-]');
    expect(matches(g, 'Aé😀\t"\\[')).toBe(true);
    expect(matches(g, 'Aé😀\t"\\-')).toBe(true);
    expect(matches(g, 'Aé😀\t"\\a')).toBe(false);
  });

  it("a trailing '-' in a class is a literal", () => {
    const g = compileGrammar("root ::= [a-]");
    expect(matches(g, "-")).toBe(true);
    expect(matches(g, "a")).toBe(true);
    expect(matches(g, "b")).toBe(false);
  });

  it("token elements <[id]> and !<[id]>; <name> through a resolver", () => {
    expect(compileGrammar("root ::= <[5]> !<[6]>* ").toString()).toBe("root ::= <[5]> root_1\nroot_1 ::= !<[6]> root_1 |\n");
    const g = compileGrammar("root ::= <think> .*", { resolveToken: (t) => (t === "<think>" ? 7 : undefined) });
    expect(g.toString()).toContain("root ::= <[7]> root_1");
    expectError("root ::= <think>", "unknown_token", 1, 10, "resolveToken");
    const e = (() => {
      try {
        compileGrammar("root ::= <nope>", { resolveToken: () => undefined });
      } catch (err) {
        return err as GrammarError;
      }
      return undefined;
    })();
    expect(e?.kind).toBe("unknown_token");
  });
});

describe("grammars adapted from llama.cpp's grammars/ folder", () => {
  it("arithmetic", () => {
    const g = compileGrammar(`root  ::= (expr "=" ws term "\\n")+
expr  ::= term ([-+*/] term)*
term  ::= ident | num | "(" ws expr ")" ws
ident ::= [a-z] [a-z0-9_]* ws
num   ::= [0-9]+ ws
ws    ::= [ \\t\\n]*`);
    expect(matches(g, "1+2= 3\n(a*b)/c = x1\n")).toBe(true);
    expect(matches(g, "1+= 3\n")).toBe(false);
    expect(matches(g, "1+2= 3")).toBe(false);
  });

  it("list (negated class with \\x and \\u escapes)", () => {
    const g = compileGrammar(`root ::= item+

# Excludes various line break characters
item ::= "- " [^\\r\\n\\x0b\\x0c\\x85\\u2028\\u2029]+ "\\n"`);
    expect(matches(g, "- milk\n- eggs é\n")).toBe(true);
    expect(matches(g, "- milk\u2028\n")).toBe(false);
    expect(matches(g, "-milk\n")).toBe(false);
  });

  it("chess", () => {
    const g = compileGrammar(`root    ::= "1. " move " " move "\\n" ([1-9] [0-9]? ". " move " " move "\\n")+
move    ::= (pawn | nonpawn | castle) [+#]?
nonpawn ::= [NBKQR] [a-h]? [1-8]? "x"? [a-h] [1-8]
pawn    ::= ([a-h] "x")? [a-h] [1-8] ("=" [NBKQR])?
castle  ::= "O-O" "-O"?`);
    expect(matches(g, "1. e4 e5\n2. Nf3 Nc6\n3. O-O-O exd8=Q+\n")).toBe(true);
    expect(matches(g, "1. e4 e5\n")).toBe(false);
    expect(matches(g, "1. e9 e5\n2. a3 a6\n")).toBe(false);
  });

  it("japanese (ranges of non-ASCII characters)", () => {
    const g = compileGrammar(`root        ::= jp-char+ ([ \\t\\n] jp-char+)*
jp-char     ::= hiragana | katakana | punctuation | cjk
hiragana    ::= [ぁ-ゟ]
katakana    ::= [ァ-ヿ]
punctuation ::= [、-〾]
cjk         ::= [一-鿿]`);
    expect(matches(g, "こんにちは 世界、カタカナ")).toBe(true);
    expect(matches(g, "hello")).toBe(false);
  });

  it("english (punctuation class with escapes)", () => {
    const g = compileGrammar(`root        ::= en-char+ ([ \\t\\n] en-char+)*
en-char     ::= letter | digit | punctuation
letter      ::= [a-zA-Z]
digit       ::= [0-9]
punctuation ::= [!"#$%&'()*+,-./:;<=>?@[\\\\\\]^_\`{|}~]`);
    expect(matches(g, "Hello, world! [x] \\o/ {~}")).toBe(true);
    expect(matches(g, "tab\t ok")).toBe(false); // a tab followed by a space
    expect(matches(g, "naïve")).toBe(false);
  });

  it("c (a multi-line alternation and nested repetitions)", () => {
    const g = compileGrammar(`root ::= (declaration)*
declaration ::= dataType identifier "(" parameter? ")" "{" statement* "}"
dataType  ::= "int" ws | "float" ws | "char" ws
identifier ::= [a-zA-Z_] [a-zA-Z_0-9]*
parameter ::= dataType identifier
statement ::=
    ( dataType identifier ws "=" ws expression ";" ) |
    ( identifier ws "=" ws expression ";" ) |
    ( "return" ws expression ";" ) |
    ( "while" "(" condition ")" "{" statement* "}" )
condition ::= expression relationOperator expression
relationOperator ::= ("<=" | "<" | "==" | "!=" | ">=" | ">")
expression ::= term (("+" | "-") term)*
term ::= factor(("*" | "/") factor)*
factor ::= identifier | number | "(" ws expression ws ")"
number ::= [0-9]+
ws ::= ([ \\t\\n]+)`);
    expect(matches(g, "int main(int x){int y = x*2;while(y<10){y = y+1;}return y;}")).toBe(true);
    expect(matches(g, "int main(){return;}")).toBe(false);
  });

  it("json (with \\x ranges and a {0,15} bound)", () => {
    const g = compileGrammar(`root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws
array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws
string ::=
  "\\"" (
    [^"\\\\\\x7F\\x00-\\x1F] |
    "\\\\" (["\\\\bfnrt] | "u" [0-9a-fA-F]{4})
  )* "\\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws ::= | " " | "\\n" [ \\t]{0,20}`);
    expect(matches(g, '{"a": [1, -2.5e3, "x\\n\\u00e9", {"b": null}], "c": true}')).toBe(true);
    expect(matches(g, '{"a": 01}')).toBe(false);
    expect(matches(g, '{"a" 1}')).toBe(false);
    expect(matches(g, '["not", "an object"]')).toBe(false);
  });
});

describe("errors carry kind, line, column and what was expected", () => {
  it("syntax errors", () => {
    expect(expectError('root = "a"', "syntax", 1, 6, "'::='").expected).toBe("'::='");
    expectError('root ::= "a"\nnext ::= "b', "syntax", 2, 12, "closing '\"'");
    expectError("root ::= [a-", "syntax", 1, 13, "the end of a range");
    expectError('root ::= ("a" | "b"', "syntax", 1, 20, "closing ')'");
    expectError('root ::= "\\q"', "syntax", 1, 11, "an escape");
    expectError('root ::= "\\x4"', "syntax", 1, 14, "2 hex digits");
    expectError('root ::= "a" )', "syntax", 1, 14, "a newline or the end");
    expectError("root ::= * \"a\"", "syntax", 1, 10, "an item before the repetition");
    expectError('root ::= "a"{x}', "syntax", 1, 14, "an integer");
    expectError('root ::= "a"{2 3}', "syntax", 1, 16, "',' or '}'");
    expectError('root ::= "a"{3,2}', "syntax", 1, 13, "an upper bound of at least 3");
    expectError('\n\n  ::= "a"', "syntax", 3, 3, "a rule name");
    expectError("root ::= " + "(".repeat(1001) + '"a"' + ")".repeat(1001), "syntax", 1, 1010, "at most 1000 nested groups");
    expect(matches(compileGrammar("root ::= " + "(".repeat(200) + '"a"' + ")".repeat(200)), "a")).toBe(true);
  });

  it("undefined rules point at their first use", () => {
    const e = expectError('root ::= a b\na ::= "x"\n', "undefined_rule", 1, 12, "'b'");
    expect(e.rule).toBe("b");
  });

  it("a missing root", () => {
    expect(() => compileGrammar('start ::= "a"')).toThrow(expect.objectContaining({ kind: "missing_root", rule: "root" }));
    expect(matches(compileGrammar('start ::= "a"', { root: "start" }), "a")).toBe(true);
  });

  it("left recursion, direct and through rules that may be empty", () => {
    expect(() => compileGrammar('root ::= root "a" | "b"')).toThrow(expect.objectContaining({ kind: "left_recursion", rule: "root" }));
    expect(() => compileGrammar('root ::= a\na ::= b? a "x" | "y"\nb ::= "z"')).toThrow(expect.objectContaining({ kind: "left_recursion" }));
    expect(() => compileGrammar('root ::= "x" root | "y"')).not.toThrow(); // right recursion is fine
  });

  it("repetition limits (llama.cpp's 2000)", () => {
    expectError('root ::= "a"{2001}', "too_many_repetitions", 1, 13, "2000");
    // the group holds 101 rules (itself and the 100 of the inner repetition): 101 × 100 > 2000
    expectError('root ::= ("a"{0,100}){0,100}', "too_many_repetitions", 1, 22, "2000");
    expect(() => compileGrammar('root ::= ("a"{100}){20}')).not.toThrow();
    expect(() => compileGrammar('root ::= "a"{0,2000}')).not.toThrow();
  });
});
