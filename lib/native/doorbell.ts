/**
 * The futex doorbell that wakes readers blocked on a live tail, across
 * processes: two u32 words of a shared mapping, a notify sequence (the futex
 * word) and a count of waiting readers.
 *
 * Protocol. A waiter adds itself to the count, loads the sequence, checks
 * for news, and only then sleeps on "the sequence still holds what I
 * loaded". A writer publishes its commit, then loads the count and, only when
 * it is non-zero, rings: bumps the sequence and wakes every sleeper. All of
 * these are sequentially consistent `Atomics` operations, so either the
 * writer sees the waiter (and the bump makes the sleep return at once or
 * wakes it) or the waiter sees the commit: nothing rung for is missed.
 *
 * A writer's per-record commit is {@linkcode Doorbell.commit}: one fast FFI
 * call (libdeepwater `dw_commit`) that stores the committed word(s) with
 * release order, fences, and loads the count and the fault generation. In
 * V8 each `Atomics` call is a runtime call (~9 ns for a load, ~13 ns for a
 * store, measured), so doing the three to four of them per record natively
 * costs about a third. It rings only when the count is not zero.
 *
 * @module
 */
import { native, type Symbols, unwrap } from "./binding.ts";
import type { Mapping } from "./mapping.ts";

/**
 * The longest one {@linkcode Doorbell.wait} sleeps without a ring, in
 * nanoseconds. The protocol misses nothing that is rung for, so this bounds
 * only what it does not cover: a writer killed between its commit and its ring, and a
 * shared-memory ring removed by another process while nobody rings it (the
 * ring reader notices in its upkeep between waits). 100 ms keeps such a
 * stall below what a person notices, while an idle reader costs ten futex
 * calls a second.
 */
export const WAIT_TIMEOUT_NS = 100_000_000n;

/** Byte offsets of the doorbell's two u32 words inside their mapping. */
export interface DoorbellFields {
  /** The notify sequence (the futex word); only rings change it. */
  notifySeq: number;
  /** Readers waiting on it; waiters add and subtract, writers load. */
  waiters: number;
}

/** {@linkcode Doorbell.commit} result bit: readers wait; call {@linkcode Doorbell.ring}. */
export const COMMIT_WAKE = 1;
/** {@linkcode Doorbell.commit} result bit: a mapping of this process faulted since `seenFaults`. */
export const COMMIT_FAULTED = 2;
/** {@linkcode Doorbell.commit}'s `word2` for "no second word". */
export const NO_WORD = 0xffffffff;

/** A doorbell over two words of a mapping (which must be mapped writable). */
export class Doorbell {
  readonly #map: Mapping;
  readonly #u32: Uint32Array;
  readonly #seq: number;
  readonly #waiters: number;
  readonly #addr: bigint;
  readonly #base: bigint;
  readonly #commit: Symbols["dw_commit"];

  /**
   * @param map the shared mapping holding both words (not owned: the caller closes it)
   * @param fields the words' byte offsets, each a multiple of 4
   */
  constructor(map: Mapping, fields: DoorbellFields) {
    this.#map = map;
    this.#u32 = new Uint32Array(map.buffer, 0, map.length >>> 2);
    this.#seq = fields.notifySeq >> 2;
    this.#waiters = fields.waiters >> 2;
    this.#addr = map.addr + BigInt(fields.notifySeq);
    this.#base = map.addr;
    this.#commit = native().dw_commit;
  }

  /**
   * A writer's commit: store `value` to u32 word `word` of the mapping, then
   * `value2` to `word2` (skipped for {@linkcode NO_WORD}), with release
   * order after the record's bytes; fence; then report whether readers wait
   * and whether a mapping faulted. The indices are the caller's, inside the
   * mapping. The caller rings when {@linkcode COMMIT_WAKE} is set.
   *
   * @param word u32 index of the committed word
   * @param value its new value
   * @param word2 u32 index of a second word stored after it, or NO_WORD
   * @param value2 the second word's value
   * @param seenFaults the fault generation last seen (FaultWatch.seen)
   * @returns COMMIT_WAKE | COMMIT_FAULTED bits
   */
  commit(word: number, value: number, word2: number, value2: number, seenFaults: number): number {
    const r = this.#commit(this.#base, word, value, word2, value2, this.#waiters, seenFaults);
    if (r < 0) unwrap(r, "Cannot commit to", this.#map.path);
    return r;
  }

  /** Whether any reader waits (one atomic load). */
  hasWaiters(): boolean {
    return Atomics.load(this.#u32, this.#waiters) !== 0;
  }

  /** Bump the sequence and wake every waiter (a writer, after publishing a commit). */
  ring(): void {
    Atomics.add(this.#u32, this.#seq, 1);
    native().dw_futex_wake(this.#addr, 0x7fffffff);
  }

  /**
   * Sleep until a ring, an abort of any of `signals`, or
   * {@linkcode WAIT_TIMEOUT_NS}; return at once when `hasNews()` already
   * holds or a signal is already aborted. The caller checks again after it
   * returns: a return promises nothing.
   *
   * An abort rings the doorbell (the sequence bump makes a sleep that has
   * not started yet return at once), so other waiters may wake for nothing;
   * they check and sleep again.
   *
   * @param hasNews whether anything the caller waits for is already published
   * @param signals abort signals that end the wait (undefined entries are skipped)
   * @returns once woken, aborted or timed out
   */
  async wait(
    hasNews: () => boolean,
    ...signals: (AbortSignal | undefined)[]
  ): Promise<void> {
    const u32 = this.#u32, map = this.#map;
    Atomics.add(u32, this.#waiters, 1);
    const onAbort = () => {
      if (map.isOpen) this.ring();
    };
    for (const s of signals) s?.addEventListener("abort", onAbort, { once: true });
    try {
      const seq = Atomics.load(u32, this.#seq);
      if (hasNews() || signals.some((s) => s?.aborted)) return;
      await native().dw_futex_wait(this.#addr, seq, WAIT_TIMEOUT_NS);
    } finally {
      for (const s of signals) s?.removeEventListener("abort", onAbort);
      if (map.isOpen) Atomics.sub(u32, this.#waiters, 1);
    }
  }
}
