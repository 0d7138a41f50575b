// The module graph of src/ has no import cycles, and the layers run one way: chat and the
// generation loop build on interfaces, never on the model that implements them. A cycle of runtime
// imports makes module initialization order-dependent (a class can be undefined where it is used);
// type-only imports are erased, so only the layering check counts them.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

// `import … from "x"` and `export … from "x"` (a clause of names, braces, commas, `*`, `type`,
// `as`, across lines), side-effect `import "x"`, and dynamic `import("x")`. Statements start a line.
// `import type …` / `export type …` statements are type-only.
const STATIC = /^(?:import|export)\s+(type\s+)?[\w\s{},*$]*?\bfrom\s*["']([^"']+)["']/gm;
const BARE = /^import\s*()["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*()["']([^"']+)["']\s*\)/g;

interface Specifier {
  readonly path: string;
  readonly typeOnly: boolean;
}

function specifiers(text: string): Specifier[] {
  return [STATIC, BARE, DYNAMIC].flatMap((re) => [...text.matchAll(re)].map((m) => ({ path: m[2], typeOnly: Boolean(m[1]) })));
}

type Graph = Map<string, Specifier[]>;

/** The graph with type-only edges dropped: what runs when the modules load. */
function runtime(graph: Graph): Map<string, string[]> {
  return new Map([...graph].map(([m, deps]) => [m, deps.filter((d) => !d.typeOnly).map((d) => d.path)]));
}

/** src-relative module → the src-relative modules it imports (relative specifiers only: packages and build outputs are leaves). */
function importGraph(): Graph {
  const files = sources(src);
  const known = new Set(files.map((f) => relative(src, f)));
  const graph: Graph = new Map();
  for (const file of files) {
    const from = relative(src, file);
    const edges: Specifier[] = [];
    for (const { path, typeOnly } of specifiers(readFileSync(file, "utf8"))) {
      if (!path.startsWith(".")) continue;
      const target = relative(src, resolve(dirname(file), path)).replace(/\.js$/, ".ts");
      if (known.has(target)) edges.push({ path: target, typeOnly });
      else if (known.has(join(target, "index.ts"))) edges.push({ path: join(target, "index.ts"), typeOnly });
    }
    graph.set(from, edges);
  }
  return graph;
}

/** Every cycle found by a depth-first search, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (m: string): void => {
    state.set(m, "open");
    stack.push(m);
    for (const next of graph.get(m) ?? []) {
      const s = state.get(next);
      if (s === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(m, "done");
  };
  for (const m of [...graph.keys()].sort()) if (!state.has(m)) visit(m);
  return found;
}

describe("the import graph of src/", () => {
  const graph = importGraph();

  it("covers the library's modules", () => {
    const deps = (m: string) => (graph.get(m) ?? []).map((d) => d.path);
    expect(deps("model/model.ts")).toContain("generate/generate.ts");
    expect(deps("chat/chat.ts")).toContain("generate/options.ts");
    expect(graph.size).toBeGreaterThan(50);
  });

  it("has no cycles of runtime imports", () => {
    expect(cycles(runtime(graph)).map((c) => c.join(" → "))).toEqual([]);
  });

  it("reads every form of import", () => {
    const text = [
      'import { a, type B } from "./a.js";',
      'import type {\n  C,\n  D,\n} from "./c.js";',
      'export * as e from "./e.js";',
      'import "./side.js";',
      'const f = await import("./f.js");',
      'export const g = h("./not-an-import.js");',
    ].join("\n");
    expect(specifiers(text)).toEqual([
      { path: "./a.js", typeOnly: false },
      { path: "./c.js", typeOnly: true },
      { path: "./e.js", typeOnly: false },
      { path: "./side.js", typeOnly: false },
      { path: "./f.js", typeOnly: false },
    ]);
  });

  it("finds a cycle when there is one", () => {
    const g = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
    ]);
    expect(cycles(g)).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"]]);
  });

  it("chat and the generation loop import nothing from src/model, not even types", () => {
    const offenders = [...graph]
      .filter(([m]) => m.startsWith("chat/") || m.startsWith("generate/"))
      .flatMap(([m, deps]) => deps.filter((d) => d.path.startsWith("model/")).map((d) => `${m} → ${d.path}`));
    expect(offenders).toEqual([]);
  });
});
