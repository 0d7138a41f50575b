// PATCH LAYER over @huggingface/jinja (see ./README.md): an Interpreter whose evaluation follows
// Python's jinja2 where the library's differs. Only this instance's methods are replaced (own
// properties shadowing the prototype's), so other users of the library in the process are unaffected.
// Each replaced method handles the cases jinja2 treats differently and hands the rest back to the
// library; values already computed are handed back as `precomputed` nodes, never evaluated twice.
import { Environment, Interpreter } from "@huggingface/jinja";
import { FILTERS, type ApplyFilter } from "./filters.js";
import { ONE_TUPLE_MARK } from "./tokens.js";
import { percentFormat, pyStr, TemplateRuntimeError, typeName } from "./python.js";
import { getAttr, getItem, iterate, markupConcat, pyCompare, pyContains, pyEquals, runTest } from "./semantics.js";
import { arr, bool, dict, float, fn, int, isArr, isDict, isFloat, isInt, isMarkup, isNone, isStr, markup, str, tuple, undef, type Node, type NumValue, type Value } from "./values.js";

/** The library's private methods this layer replaces or calls (present at run time on the prototype). */
interface Internals {
  evaluate(node: Node | undefined, env: Environment): Value;
  applyFilter(operand: Value, filter: Node, env: Environment): Value;
  evaluateBlock(statements: Node[], env: Environment): Value;
  evaluateArguments(args: Node[], env: Environment): [Value[], Map<string, Value>];
}

// The AST node shapes read here (fields of the library's ast.ts classes).
interface Ident { readonly type: string; readonly value: string }
interface CallNode { readonly type: string; readonly callee: Node; readonly args: Node[] }
interface MemberNode { readonly object: Node; readonly property: Node; readonly computed: boolean }
interface BinaryNode { readonly operator: { readonly value: string }; readonly left: Node; readonly right: Node }
interface TestNode { readonly operand: Node; readonly negate: boolean; readonly test: Ident }
interface ForNode { readonly iterable: Node }
interface SelectNode { readonly lhs: Node; readonly test: Node }
interface ListNode { readonly value: Node[] }
interface MapNode { readonly value: Map<Node, Node> }

/** A node standing for a value already computed. */
const PRECOMPUTED = "WoollyPrecomputed";
interface PrecomputedNode { readonly type: typeof PRECOMPUTED; readonly value: Value }
const precomputed = (value: Value): Node => ({ type: PRECOMPUTED, value }) as PrecomputedNode as unknown as Node;

/** Statements whose value is no output (jinja2 writes `None` for `{{ none }}`, but nothing for a set). */
const SILENT = new Set(["Set", "Macro", "Comment"]);

const as = <T>(node: Node): T => node as unknown as T;

/**
 * What one rendering may spend: templates come from model files and, through a server, from clients, so
 * a template that loops without end or builds a huge string must stop with an error, not freeze the
 * process. A real chat template renders a long conversation in well under 100,000 steps and 1 MB.
 */
export const RENDER_LIMITS = {
  /** Expressions and statements evaluated. */
  steps: 1_000_000,
  /** Characters of any one string built on the way, and of all the pieces of output written (a piece inside a loop counts once per block it passes through). */
  chars: 16 << 20,
};

export function createInterpreter(env: Environment, limits = RENDER_LIMITS): Interpreter {
  const interpreter = new Interpreter(env);
  let steps = 0;
  let written = 0;
  const self = interpreter as unknown as Internals;
  const base: Internals = {
    evaluate: self.evaluate.bind(interpreter),
    applyFilter: self.applyFilter.bind(interpreter),
    evaluateBlock: self.evaluateBlock.bind(interpreter),
    evaluateArguments: self.evaluateArguments.bind(interpreter),
  };
  const evaluate = (node: Node, scope: Environment): Value => self.evaluate(node, scope);
  const loops = new WeakSet<Value>();

  const applyNamed: ApplyFilter = (name, operand, args, kwargs) => {
    const filter = FILTERS.get(name);
    if (filter) return filter(operand, args, kwargs, applyNamed);
    // The library's own filter, given the arguments already evaluated.
    const node = { type: "CallExpression", callee: { type: "Identifier", value: name }, args: args.map(precomputed) };
    if (kwargs.size > 0) throw new TemplateRuntimeError(`filter '${name}' takes no keyword arguments here`);
    return base.applyFilter(operand, node as unknown as Node, env);
  };

  self.applyFilter = (operand, filterNode, scope) => {
    const isCall = filterNode.type === "CallExpression";
    const name = isCall ? as<Ident>(as<CallNode>(filterNode).callee).value : as<Ident>(filterNode).value;
    const filter = FILTERS.get(name);
    if (!filter) return base.applyFilter(operand, filterNode, scope);
    const [args, kwargs] = isCall ? base.evaluateArguments(as<CallNode>(filterNode).args, scope) : [[], new Map<string, Value>()];
    return filter(operand, args, kwargs, applyNamed);
  };

  // Output is Python's str() of each value: `True`, `None`, `['a', 'b']`, `{'k': 1}`.
  self.evaluateBlock = (statements, scope) => {
    let out = "";
    for (const statement of statements) {
      const v = evaluate(statement, scope);
      if (isNone(v) && SILENT.has(statement.type)) continue;
      const piece = pyStr(v);
      written += piece.length;
      if (written > limits.chars) throw new TemplateRuntimeError(`the template's output passed ${limits.chars} characters`);
      out += piece;
    }
    return str(out);
  };

  self.evaluate = (node, scope) => {
    if (++steps > limits.steps) throw new TemplateRuntimeError(`the template ran more than ${limits.steps} steps (a loop without end?)`);
    switch (node?.type) {
      case PRECOMPUTED:
        return as<PrecomputedNode>(node).value;
      case "TupleLiteral": {
        const items = as<ListNode>(node).value.filter((x) => !(x.type === "Identifier" && as<Ident>(x).value === ONE_TUPLE_MARK));
        return tuple(items.map((x) => evaluate(x, scope)));
      }
      case "ObjectLiteral":
        // Keys may be ints ({0: 0, 512: 128}); the library allows only strings.
        return dict([...as<MapNode>(node).value].map(([k, v]) => [evaluate(k, scope), evaluate(v, scope)] as const));
      case "MemberExpression":
        return member(as<MemberNode>(node), node, scope);
      case "TestExpression": {
        const t = as<TestNode>(node);
        const result = runTest(t.test.value, evaluate(t.operand, scope), []);
        if (result === undefined) throw new TemplateRuntimeError(`No test named '${t.test.value}'.`);
        return bool(result !== t.negate);
      }
      case "For":
        return forLoop(node, scope);
      case "Identifier": {
        // The library's loop object lacks jinja2's loop.cycle and loop.depth: remember which it is.
        const v = base.evaluate(node, scope);
        if (as<Ident>(node).value === "loop" && isDict(v)) loops.add(v);
        return v;
      }
      case "BinaryExpression":
        return binary(as<BinaryNode>(node), scope);
      default:
        return base.evaluate(node, scope);
    }
  };

  function member(m: MemberNode, node: Node, scope: Environment): Value {
    const object = evaluate(m.object, scope);
    if (m.computed && m.property.type === "SliceExpression") {
      return base.evaluate({ ...node, object: precomputed(object) } as Node, scope);
    }
    if (m.computed) return getItem(object, evaluate(m.property, scope));
    if (m.property.type === "IntegerLiteral") return getItem(object, int(as<{ value: number }>(m.property).value));
    const name = as<Ident>(m.property).value;
    if (loops.has(object) && isDict(object)) {
      const index0 = object.value.get("index0") as Value;
      if (name === "cycle") return fn((args) => args[Number(index0.value) % Math.max(1, args.length)] ?? undef());
      if (name === "depth" || name === "depth0") return int(name === "depth" ? 1 : 0);
    }
    return getAttr(object, name);
  }

  // Loops visit what Python iterates (dict keys as they were made, characters, nothing for
  // Undefined); the loop itself (loop.*, else, break) stays the library's.
  function forLoop(node: Node, scope: Environment): Value {
    const f = as<ForNode>(node);
    const select = f.iterable.type === "SelectExpression" ? as<SelectNode>(f.iterable) : undefined;
    const items = precomputed(arr(iterate(evaluate(select ? select.lhs : f.iterable, scope))));
    const iterable = select ? ({ ...f.iterable, lhs: items } as Node) : items;
    return base.evaluate({ ...node, iterable } as Node, scope);
  }

  function binary(b: BinaryNode, scope: Environment): Value {
    const op = b.operator.value;
    if (op === "and" || op === "or") return base.evaluate(b as unknown as Node, scope);
    const left = evaluate(b.left, scope);
    const right = evaluate(b.right, scope);
    switch (op) {
      case "~":
        return str(pyStr(left) + pyStr(right));
      case "==":
        return bool(pyEquals(left, right));
      case "!=":
        return bool(!pyEquals(left, right));
      case "in":
        return bool(pyContains(right, left));
      case "not in":
        return bool(!pyContains(right, left));
      case "<":
      case ">":
      case "<=":
      case ">=": {
        const c = pyCompare(left, right, op);
        return bool(op === "<" ? c < 0 : op === ">" ? c > 0 : op === "<=" ? c <= 0 : c >= 0);
      }
      case "+":
        if (isStr(left) && isStr(right) && (isMarkup(left) || isMarkup(right))) return markup(markupConcat(left, right));
        if (isStr(left) && isStr(right) && left.value.length + right.value.length > limits.chars) {
          throw new TemplateRuntimeError(`a string of more than ${limits.chars} characters`);
        }
        break;
      case "*": {
        // Python repeats sequences: '-' * 3, [x] * 2.
        const [seq, n] = isInt(right) ? [left, right] : [right, left];
        if (isInt(n) && (isStr(seq) || isArr(seq))) {
          const times = Math.max(0, n.value);
          if (times * seq.value.length > MAX_ITEMS) throw new TemplateRuntimeError(`a repetition of more than ${MAX_ITEMS} items`);
          if (isStr(seq)) return str(seq.value.repeat(times));
          return arr(Array.from({ length: times }, () => seq.value).flat());
        }
        break;
      }
      case "/":
      case "//":
      case "%":
        if (op === "%" && isStr(left)) return str(percentFormat(left.value, right));
        if (isNumber(left) && isNumber(right)) return divide(op, left, right);
        break;
    }
    if (isStr(left) !== isStr(right) && (op === "+" || op === "-")) {
      throw new TemplateRuntimeError(`unsupported operand type(s) for ${op}: '${typeName(left)}' and '${typeName(right)}'`);
    }
    return base.evaluate({ ...b, left: precomputed(left), right: precomputed(right) } as unknown as Node, scope);
  }

  return interpreter;
}

/** The most items a template may make at once (jinja2's sandbox allows range() up to 100000). */
export const MAX_ITEMS = 100_000;

const isNumber = (v: Value): v is NumValue => isInt(v) || isFloat(v);

/** Python's division family: ZeroDivisionError, and // and % rounding toward negative infinity. */
function divide(op: string, a: NumValue, b: NumValue): Value {
  const ints = isInt(a) && isInt(b);
  if (b.value === 0) {
    throw new TemplateRuntimeError(op === "/" ? "division by zero" : op === "//" ? "integer division or modulo by zero" : "integer modulo by zero");
  }
  if (op === "/") return float(a.value / b.value);
  const q = Math.floor(a.value / b.value);
  const r = a.value - q * b.value;
  const v = op === "//" ? q : r;
  return ints ? int(v) : float(v);
}
