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
 * wakes it) or the waiter sees the commit: nothing rung for is missed. The
 * writers keep the count check inline on their commit path (one atomic load
 * when nobody waits) and call {@linkcode Doorbell.ring} only when it is not
 * zero.
 *
 * @module
 */
import { native } from "./binding.ts";
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

/** A doorbell over two words of a mapping (which must be mapped writable). */
export class Doorbell {
  readonly #map: Mapping;
  readonly #u32: Uint32Array;
  readonly #seq: number;
  readonly #waiters: number;
  readonly #addr: bigint;

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
