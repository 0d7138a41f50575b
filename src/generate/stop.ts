// Streaming stop strings: text arrives in pieces (one per token); text that might be the start of a stop
// string is held back until it is known not to be one, and generation stops where a stop string first
// completes. The stop string itself is never emitted.
//
// The result does not depend on how the text is split: each stop string has a KMP automaton (state =
// length of the longest prefix of that stop ending at the current character), fed one UTF-16 code unit
// at a time. The match reported is the first to complete; of several completing on the same character,
// the longest. E.g. stops ["abcd", "bc"] on "abcd" stop after "bc" and emit "a".
import { ParameterError } from "../errors.js";

/** At most this many stop strings: each one costs a state update per character of output. */
export const MAX_STOPS = 16;
/** At most this many UTF-16 code units per stop string: bounds the held-back text and the tables. */
export const MAX_STOP_LENGTH = 1000;

export interface StopPush {
  /** Text that is safe to show: it cannot be part of a stop string. */
  readonly emit: string;
  /** A stop string completed; everything before it has been emitted and later input is ignored. */
  readonly stopped: boolean;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class StopMatcher {
  private readonly stops: readonly string[];
  private readonly fail: readonly Int32Array[]; // per stop: KMP failure function, fail[k] for prefix length k+1
  private readonly state: Int32Array; // per stop: matched prefix length at the end of the text so far
  private held = "";
  private stopped = false;

  /** `stops`: up to 16 non-empty strings of at most 1,000 UTF-16 code units, without lone surrogates. */
  constructor(stops: readonly string[]) {
    if (!Array.isArray(stops)) throw new ParameterError("stop", "an array of strings", stops);
    if (stops.length > MAX_STOPS) {
      throw new ParameterError("stop", `at most ${MAX_STOPS} strings`, `${stops.length} strings`);
    }
    stops.forEach((s: unknown, i) => {
      const ok = typeof s === "string" && s.length > 0 && s.length <= MAX_STOP_LENGTH && !LONE_SURROGATE.test(s);
      if (!ok) {
        throw new ParameterError(
          `stop[${i}]`,
          `a non-empty string of at most ${MAX_STOP_LENGTH} UTF-16 code units without lone surrogates`,
          s,
        );
      }
    });
    this.stops = [...stops];
    this.fail = this.stops.map(failureFunction);
    this.state = new Int32Array(stops.length);
  }

  /** Feeds the next piece of text. After a stop, returns an empty emit and stopped = true. */
  push(text: string): StopPush {
    if (this.stopped) return { emit: "", stopped: true };
    const all = this.held + text;
    for (let pos = this.held.length; pos < all.length; pos++) {
      const ch = all.charCodeAt(pos);
      let matched = 0;
      for (let s = 0; s < this.stops.length; s++) {
        const k = this.advance(s, ch);
        if (k === this.stops[s]!.length && k > matched) matched = k;
      }
      if (matched > 0) {
        this.stopped = true;
        this.held = "";
        return { emit: all.slice(0, pos + 1 - matched), stopped: true };
      }
    }
    // The longest partial match is the text that might still become a stop string.
    let hold = 0;
    for (let s = 0; s < this.stops.length; s++) hold = Math.max(hold, this.state[s]!);
    this.held = all.slice(all.length - hold);
    return { emit: all.slice(0, all.length - hold), stopped: false };
  }

  /** Ends the stream: returns the held-back text, which turned out not to be a stop string. */
  flush(): string {
    const rest = this.held;
    this.held = "";
    this.state.fill(0);
    return rest;
  }

  /** One KMP step for stop s on code unit ch; returns the new matched length (never already full). */
  private advance(s: number, ch: number): number {
    const stop = this.stops[s]!;
    const fail = this.fail[s]!;
    let k = this.state[s]!;
    while (k > 0 && stop.charCodeAt(k) !== ch) k = fail[k - 1]!;
    if (stop.charCodeAt(k) === ch) k++;
    this.state[s] = k;
    return k;
  }
}

/** KMP failure function: f[i] = length of the longest proper prefix of s[0..i] that is also its suffix. */
function failureFunction(s: string): Int32Array {
  const f = new Int32Array(s.length);
  let k = 0;
  for (let i = 1; i < s.length; i++) {
    while (k > 0 && s.charCodeAt(i) !== s.charCodeAt(k)) k = f[k - 1]!;
    if (s.charCodeAt(i) === s.charCodeAt(k)) k++;
    f[i] = k;
  }
  return f;
}
