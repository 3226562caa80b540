/**
 * The live-tail iterator behind `stream()` on both kinds of reader.
 *
 * An async generator costs two or three microtask hops per record (a `yield`
 * awaits its value, then settles the consumer's promise). This iterator's
 * `next()` instead hands over a record that is already committed, or that
 * arrives while it spins, as one resolved promise: one hop. It waits
 * asynchronously only when there is nothing to hand over, and it gives the
 * event loop a turn at least every `yieldMs` even while records keep
 * arriving, so timers and abort handlers still run.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { ConsumerTrack } from "./consumers.ts";

/** What a reader provides to its live tail (of records, or of raw batches). */
export interface LiveSource<T> {
  /** Move up to `max` items committed after the tail's position into `out`. */
  pull(out: T[], max: number): void;
  /**
   * Whether anything new is committed (a cheap check, called in the spin
   * loop); `quick` is the cheaper check the spin makes between full ones.
   */
  hasNews(quick?: boolean): boolean;
  /** Sleep until news, an abort or a timeout (the idle-friendly wait). */
  block(signal: AbortSignal | undefined): Promise<void>;
  /**
   * Upkeep before each wait; a promise is awaited first (a ring reader
   * follows a re-created ring here, and sleeps while no ring exists).
   */
  idle?(): Promise<void> | void;
  /** Whether the reader is still open; the tail ends once it is not. */
  isOpen(): boolean;
}

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };
const BATCH = 4096;

/** An async iterator over a live feed. See the module documentation. */
export class LiveIterator<T> implements AsyncIterableIterator<T> {
  readonly #src: LiveSource<T>;
  readonly #spin: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #yieldMs: number;
  readonly #track: ConsumerTrack | undefined;
  #buf: T[] = [];
  #at = 0;
  #ended = false;
  #lastYield = performance.now();

  /**
   * @param src the reader's side
   * @param wait "spin" busy-waits, "block" sleeps in the source's `block`
   * @param signal ends the tail when aborted
   * @param yieldMs longest stretch without giving the event loop a turn
   * @param track a named consumer's acknowledgements: asking for the next
   *   item acknowledges those handed out before it
   */
  constructor(
    src: LiveSource<T>,
    wait: "spin" | "block",
    signal: AbortSignal | undefined,
    yieldMs: number,
    track?: ConsumerTrack,
  ) {
    this.#src = src;
    this.#track = track;
    this.#spin = wait === "spin";
    this.#signal = signal;
    this.#yieldMs = yieldMs;
  }

  /** This iterator. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next record, or the end once the signal aborted or the reader closed. */
  next(): Promise<IteratorResult<T, undefined>> {
    this.#track?.ack(this.#at);
    const r = this.#take();
    return r ? Promise.resolve(r) : this.#wait();
  }

  /** End the tail (a `break` out of `for await` calls this); a consumer's last item is acknowledged. */
  return(): Promise<IteratorResult<T, undefined>> {
    this.#track?.ack(this.#at);
    this.#track?.close();
    this.#ended = true;
    this.#buf = [];
    return Promise.resolve(DONE);
  }

  /**
   * A record or the end without waiting (spinning first in spin mode);
   * undefined: wait. Right after the event loop's turn it pulls whatever
   * `yieldMs` says, or a `yieldMs` shorter than a turn would never pull.
   */
  #take(afterTurn = false): IteratorResult<T, undefined> | undefined {
    if (this.#ended || !this.#src.isOpen() || this.#signal?.aborted) {
      this.#track?.close();
      this.#ended = true;
      return DONE;
    }
    if (this.#at < this.#buf.length) return { value: this.#buf[this.#at++]!, done: false };
    if (!afterTurn && performance.now() - this.#lastYield > this.#yieldMs) return undefined; // the loop's turn
    this.#buf.length = 0;
    this.#at = 0;
    this.#track?.refill();
    this.#src.pull(this.#buf, BATCH);
    if (this.#buf.length === 0 && this.#spin && this.#spinUntilNews()) {
      this.#src.pull(this.#buf, BATCH);
    }
    return this.#buf.length ? { value: this.#buf[this.#at++]!, done: false } : undefined;
  }

  /** Busy-wait, synchronously: true on news, false when the event loop is due a turn. */
  #spinUntilNews(): boolean {
    const deadline = this.#lastYield + this.#yieldMs;
    let i = 0;
    while (!this.#src.hasNews((i & 15) !== 0)) {
      if ((++i & 1023) === 0 && (performance.now() > deadline || !this.#src.isOpen())) {
        return false;
      }
    }
    return true;
  }

  async #wait(): Promise<IteratorResult<T, undefined>> {
    for (;;) {
      const upkeep = this.#src.idle?.();
      if (upkeep) await upkeep;
      // A block is a turn too: with nothing new, sleep even when a turn is due
      // (with a yieldMs of 0 one always is).
      const due = performance.now() - this.#lastYield > this.#yieldMs && this.#src.hasNews();
      if (this.#spin || due) await new Promise<void>((r) => setImmediate(r));
      else await this.#src.block(this.#signal);
      this.#lastYield = performance.now();
      const r = this.#take(true);
      if (r) return r;
    }
  }
}
