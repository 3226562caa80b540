/**
 * What the Deno-hosted systems of the side-by-side benchmark share: the
 * operation arguments, the system interface, the shared clock, the paced
 * writer loop and latency sampling.
 *
 * @module
 */
import type { PeerResult, QueryResult } from "./protocol.ts";
import type { RecordType } from "./records.ts";
import { now } from "../clock.ts";

/** Arguments of `append`. */
export interface AppendArgs {
  /** Record shape. */
  rt: RecordType;
  /** Records to append. */
  n: number;
  /** The dataset: n packed records. */
  data: Uint8Array;
  /** Store directory (empty). */
  dir: string;
}

/** Arguments of `query`. */
export interface QueryArgs {
  /** Record shape. */
  rt: RecordType;
  /** Records in the store. */
  n: number;
  /** Store directory written by `append`. */
  dir: string;
  /** Seek targets (µs). */
  seeks: number[];
  /** Windows [start, end] (µs, inclusive). */
  windows: [number, number][];
  /** Stop a phase early after this many seconds (the answered count is reported). */
  maxSeconds: number;
}

/** Arguments of the latency operations. */
export interface LatencyArgs {
  /** Record shape. */
  rt: RecordType;
  /** Store directory. */
  dir: string;
  /** Messages the writer sends (including the reader's warm-up). */
  messages: number;
  /** Messages the reader ignores first. */
  warmup: number;
  /** Writer's pace, messages per second. */
  rate: number;
}

/** A system driven from Deno. */
export interface PeerSystem {
  /** Append the dataset to a new store. */
  append(a: AppendArgs): Promise<PeerResult> | PeerResult;
  /** Answer the query plan from the store `append` wrote. */
  query(a: QueryArgs): Promise<PeerResult> | PeerResult;
  /** Create an empty store for a latency run. */
  latencyInit(a: LatencyArgs): Promise<PeerResult | undefined> | PeerResult | undefined;
  /** Tail the store, calling `ready` once tailing, and measure until every message arrived. */
  latencyReader(a: LatencyArgs, ready: () => void): Promise<PeerResult>;
  /** Send the paced messages. */
  latencyWriter(a: LatencyArgs): Promise<PeerResult> | PeerResult;
}

/** Pause between a latency writer opening its store and its first message (ms). */
export const SETTLE_MS = 500;

/** CLOCK_MONOTONIC in ns: the clock every process (C, Java, Deno) shares. */
export const nowNs: () => number = now;

/**
 * Send `messages` at `rate` per second: `send(i, sentNs)` for each, busy-
 * waiting for its slot. Returns the writer result.
 */
export async function paced(
  messages: number,
  rate: number,
  send: (i: number, sentNs: number) => unknown,
): Promise<PeerResult> {
  // Every writer settles after opening its store (background start-up work
  // such as a first prefetch finishes) before the first message.
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const gap = 1e9 / rate;
  const start = nowNs();
  for (let i = 0; i < messages; i++) {
    const due = start + i * gap;
    while (nowNs() < due) { /* pace */ }
    const r = send(i, nowNs());
    if (r instanceof Promise) await r; // an async client finishes one message before the next
  }
  return { ok: true, messages, seconds: (nowNs() - start) / 1e9 };
}

/** Collects one-way latencies after the warm-up. */
export class LatencySamples {
  /** Samples in ns. */
  readonly lat: Float64Array;
  #seen = 0;
  /**
   * @param messages total messages expected
   * @param warmup leading messages not recorded
   */
  constructor(readonly messages: number, readonly warmup: number) {
    this.lat = new Float64Array(messages - warmup);
  }
  /** Record a message sent at `sentNs`; returns true once every message arrived. */
  add(sentNs: number): boolean {
    const d = nowNs() - sentNs;
    if (this.#seen >= this.warmup) this.lat[this.#seen - this.warmup] = d;
    return ++this.#seen >= this.messages;
  }
  /** Messages seen so far. */
  get seen(): number {
    return this.#seen;
  }
}

/**
 * Run the query plan with a system's own two operations, timing each phase
 * and stopping a phase after `maxSeconds` (the answered counts are reported).
 * A promise is awaited only when a system returns one, so synchronous systems
 * pay no microtask per query.
 *
 * @param a the query arguments
 * @param seek (found timestamp - T0) for the first record at or after `t`, 0 when none
 * @param window the sum of the quantity over records in [start, end]
 * @returns the result line
 */
export async function runQueries(
  a: QueryArgs,
  seek: (t: number) => number | Promise<number>,
  window: (start: number, end: number) => number | Promise<number>,
): Promise<QueryResult> {
  const limit = a.maxSeconds * 1000;
  let seekCheck = 0, k = 0;
  const t0 = performance.now();
  while (k < a.seeks.length) {
    const r = seek(a.seeks[k++]!);
    seekCheck += typeof r === "number" ? r : await r;
    if ((k & 63) === 0 && performance.now() - t0 > limit) break;
  }
  const seekSeconds = (performance.now() - t0) / 1000;
  let windowCheck = 0, m = 0;
  const t1 = performance.now();
  while (m < a.windows.length) {
    const [start, end] = a.windows[m++]!;
    const r = window(start, end);
    windowCheck += typeof r === "number" ? r : await r;
    if (performance.now() - t1 > limit) break;
  }
  const windowSeconds = (performance.now() - t1) / 1000;
  return { ok: true, seeks: k, seekSeconds, seekCheck, windows: m, windowSeconds, windowCheck };
}
