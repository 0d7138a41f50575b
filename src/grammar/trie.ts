// TokenTrie: a vocabulary's token byte strings as a trie, laid out in preorder so a mask is one
// linear scan that jumps over rejected subtrees. Built once per vocabulary and shared by every
// constraint over it.

import { classOf, classOfPartial, INVALID_CLASS } from "./classes.js";
import { utf8Remaining, utf8Step, UTF8_START } from "./utf8.js";

export class TokenTrie {
  /** Number of token ids (pieces.length). */
  readonly nVocab: number;
  /** token id → 1 if it ends generation (EOS, EOT, …): allowed only where the grammar can end. */
  readonly eog: Uint8Array;
  /**
   * token id → 1 if its bytes are a non-empty, NUL-free run of UTF-8 (possibly cut mid-character):
   * the tokens a grammar can ever allow besides EOG. Empty pieces (control tokens rendered as
   * nothing) are never allowed, as in llama.cpp.
   */
  readonly usable: Uint8Array;
  /** token id → 1 if its bytes, decoded from a character boundary, end on one (for token elements). */
  readonly whole: Uint8Array;

  // preorder nodes; node 0 is the root (depth 0, no byte)
  /** node → its byte */
  readonly byte: Uint8Array;
  /** node → depth (bytes from the root) */
  readonly depth: Uint16Array;
  /** node → index one past its subtree */
  readonly subtreeEnd: Int32Array;
  /** node → first index in `order` of the tokens ending at it; node count + 1 entries */
  readonly tokenStart: Int32Array;
  /** token ids in trie order (sorted by bytes) */
  readonly order: Int32Array;
  readonly maxDepth: number;
  /** node → the code point classes (classes.ts bits) of the characters strictly below it, decoded from a character boundary */
  readonly subtreeClasses: Int32Array;
  /** node → the class of its own character or partial character (INVALID_CLASS if the bytes are not UTF-8) */
  readonly nodeClass: Int32Array;
  /** node → the packed UTF-8 decoder state (utf8.ts) after its bytes, decoded from a character boundary */
  readonly nodeState: Int32Array;
  private readonly pieces: readonly Uint8Array[];

  /** `pieces[id]` is token id's bytes as generation emits them; `eogIds` the end-of-generation tokens. */
  constructor(pieces: readonly Uint8Array[], eogIds: Iterable<number> = []) {
    const n = pieces.length;
    this.nVocab = n;
    this.pieces = pieces;
    this.eog = new Uint8Array(n);
    for (const id of eogIds) if (id >= 0 && id < n) this.eog[id] = 1;
    this.usable = new Uint8Array(n);
    this.whole = new Uint8Array(n);
    const ids: number[] = [];
    let totalBytes = 0;
    for (let id = 0; id < n; id++) {
      const p = pieces[id];
      if (this.eog[id] || p.length === 0 || p.indexOf(0) >= 0) continue;
      this.usable[id] = 1;
      let st = UTF8_START;
      for (let i = 0; i < p.length; i++) st = utf8Step(st, p[i]);
      this.whole[id] = utf8Remaining(st) === 0 ? 1 : 0;
      ids.push(id);
      totalBytes += p.length;
    }
    // Sorting by Latin-1 strings (one char per byte) compares bytewise, natively: much faster than
    // a byte-array comparator over 150k tokens.
    // NUL (never in a usable piece) separates the id, so a prefix still sorts first.
    const keyed = ids.map((id) => String.fromCharCode(...pieces[id]) + "\0" + id);
    keyed.sort();
    for (let i = 0; i < keyed.length; i++) ids[i] = Number(keyed[i].slice(keyed[i].lastIndexOf("\0") + 1));

    // Sorted order is the trie's preorder: each piece adds the nodes past its common prefix with
    // the previous one, and the tokens ending at a node come before its first child is made.
    const cap = totalBytes + 1;
    const byte = new Uint8Array(cap);
    const depth = new Uint16Array(cap);
    const subtreeEnd = new Int32Array(cap);
    const tokenStart = new Int32Array(cap + 1);
    const order = new Int32Array(ids.length);
    const open: number[] = [0];
    let nNodes = 1;
    let nTok = 0;
    let prev: Uint8Array = new Uint8Array(0);
    let maxDepth = 0;
    for (const id of ids) {
      const p = pieces[id];
      let l = 0;
      while (l < prev.length && l < p.length && prev[l] === p[l]) l++;
      while (open.length - 1 > l) subtreeEnd[open.pop() as number] = nNodes;
      for (let d = l + 1; d <= p.length; d++) {
        byte[nNodes] = p[d - 1];
        depth[nNodes] = d;
        tokenStart[nNodes] = nTok;
        open.push(nNodes++);
      }
      order[nTok++] = id;
      if (p.length > maxDepth) maxDepth = p.length;
      prev = p;
    }
    while (open.length > 0) subtreeEnd[open.pop() as number] = nNodes;
    tokenStart[nNodes] = nTok;
    this.byte = byte.slice(0, nNodes);
    this.depth = depth.slice(0, nNodes);
    this.subtreeEnd = subtreeEnd.slice(0, nNodes);
    this.tokenStart = tokenStart.slice(0, nNodes + 1);
    this.order = order;
    this.maxDepth = maxDepth;

    // Classes below each node: each node's own character (or partial character) class, ORed up
    // into its ancestors in reverse preorder.
    const own = new Int32Array(nNodes);
    const parent = new Int32Array(nNodes);
    const path = new Int32Array(maxDepth + 1);
    const state = new Int32Array(maxDepth + 1);
    state[0] = UTF8_START;
    const nodeState = new Int32Array(nNodes);
    nodeState[0] = UTF8_START;
    for (let i = 1; i < nNodes; i++) {
      const d = depth[i];
      parent[i] = path[d - 1];
      path[d] = i;
      const st = utf8Step(state[d - 1], byte[i]);
      state[d] = st;
      nodeState[i] = st;
      const rem = utf8Remaining(st);
      own[i] = rem < 0 ? INVALID_CLASS : rem === 0 ? classOf(st >>> 4) : classOfPartial(st >>> 4, rem);
    }
    const sub = new Int32Array(nNodes);
    for (let i = nNodes - 1; i >= 1; i--) sub[parent[i]] |= sub[i] | own[i];
    this.subtreeClasses = sub;
    this.nodeClass = own;
    this.nodeState = nodeState;
  }

  /** Number of trie nodes (root included). */
  get nodeCount(): number {
    return this.byte.length;
  }

  /** Token id's bytes, as given. */
  piece(id: number): Uint8Array {
    return this.pieces[id];
  }
}


