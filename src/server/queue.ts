// The server's request queue: one model, one generation at a time, in arrival order, with a bound
// on how many may wait so an overloaded server answers 503 at once instead of growing a backlog
// whose tail would time out anyway.
import { ServerError } from "./http.js";

/** Default bound on waiting requests: a few minutes of short chats on a small model, not an unbounded pile. */
export const DEFAULT_MAX_QUEUE = 64;

/** What Retry-After says on a 503 for a full queue: long enough for a turn to pass, short enough for an interactive client. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * FIFO turns on the model. The Model serializes calls itself; this queue exists so the server knows
 * how many requests wait, refuses more than `maxWaiting`, and lets a client that leaves while waiting
 * give up its turn at once.
 */
export class RequestQueue {
  private tail: Promise<void> = Promise.resolve();
  /** Requests waiting for their turn. */
  waiting = 0;
  /** Requests holding the model (0 or 1). */
  active = 0;
  /** Requests refused because the queue was full. */
  rejected = 0;

  /** `maxWaiting`: requests that may wait behind the running one; 0 admits only an idle model's request. */
  constructor(readonly maxWaiting: number = DEFAULT_MAX_QUEUE) {}

  /**
   * Resolves with a release function when it is this request's turn, or undefined if `signal` fired
   * first. Throws ServerError('queue_full') at once, before waiting, when no place is free.
   */
  async acquire(signal: AbortSignal): Promise<(() => void) | undefined> {
    // The running request does not count: with maxWaiting 0 an idle model still serves.
    if (this.active + this.waiting > this.maxWaiting) {
      this.rejected++;
      throw new ServerError("queue_full", `the server is busy: ${this.waiting} request${this.waiting === 1 ? " is" : "s are"} waiting (the limit is ${this.maxWaiting}); retry later`, {
        code: "server_busy",
      });
    }
    let release!: () => void;
    const previous = this.tail;
    const mine = new Promise<void>((r) => (release = r));
    this.tail = previous.then(() => mine);
    this.waiting++;
    let counted = true;
    const leave = (): void => {
      if (counted) this.waiting--;
      counted = false;
    };
    // A request that is given up (its client left, its time ran out) stops waiting at once, so it
    // is answered now; its link in the chain passes the turn on when the turn comes.
    let wake!: () => void;
    const woken = new Promise<void>((r) => (wake = r));
    const onAbort = (): void => {
      leave();
      wake();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    await Promise.race([previous, woken]);
    signal.removeEventListener("abort", onAbort);
    leave();
    if (signal.aborted) {
      void previous.then(release);
      return undefined;
    }
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      release();
    };
  }
}
