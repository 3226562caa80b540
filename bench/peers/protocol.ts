/**
 * How the orchestrator (`run.ts`) talks to each system's harness, whatever
 * its language: one child process per operation, arguments on the command
 * line, one JSON result line on stdout (the latency reader first prints
 * `ready` once it is tailing).
 *
 * Operations and positional arguments (after the system name for Deno peers):
 * ```
 * append         <record> <n> <dataset file> <store dir>
 * query          <record> <n> <store dir> <seeks file> <windows file> <max seconds>
 * latency-init   <record> <store dir>
 * latency-reader <record> <store dir> <messages> <warm-up messages>
 * latency-writer <record> <store dir> <messages> <rate per second>
 * ```
 * Seek and window files are little-endian u64 arrays (windows as start, end
 * pairs). Latency messages carry their CLOCK_MONOTONIC send time (ns) in the
 * record's first float64 field and their sequence number as the timestamp.
 *
 * @module
 */

/** Result of `append`. */
export interface AppendResult {
  /** Succeeded. */
  ok: true;
  /** Records appended. */
  records: number;
  /** Seconds from opening the store to closing it with everything committed. */
  seconds: number;
  /** Bytes the store occupies on disk afterwards (0 for memory-only stores). */
  bytes: number;
}

/** Result of `query`. */
export interface QueryResult {
  /** Succeeded. */
  ok: true;
  /** Seeks answered (all of them, unless the time limit cut the run short). */
  seeks: number;
  /** Seconds for those seeks. */
  seekSeconds: number;
  /** Sum of (found timestamp - T0) over the seeks. */
  seekCheck: number;
  /** Windows answered. */
  windows: number;
  /** Seconds for those windows. */
  windowSeconds: number;
  /** Sum of the quantity over every record of those windows. */
  windowCheck: number;
}

/** Result of `latency-writer`. */
export interface WriterResult {
  /** Succeeded. */
  ok: true;
  /** Messages written. */
  messages: number;
  /** Seconds spent writing them (the paced schedule is messages / rate). */
  seconds: number;
}

/** Result of `latency-reader`, latencies in nanoseconds. */
export interface ReaderResult {
  /** Succeeded. */
  ok: true;
  /** Messages measured (after the warm-up). */
  messages: number;
  /** Median. */
  p50: number;
  /** 99th percentile. */
  p99: number;
  /** 99.9th percentile. */
  p999: number;
  /** Largest. */
  max: number;
}

/** A system that cannot run an operation says why. */
export interface Unsupported {
  /** Failed or not supported. */
  ok: false;
  /** Why, in a sentence (shown in the report). */
  reason: string;
}

/** Any result line. */
export type PeerResult = AppendResult | QueryResult | WriterResult | ReaderResult | Unsupported;

/**
 * Percentiles of latency samples (sorted in place).
 *
 * @param lat samples in ns
 * @returns the reader result
 */
export function percentiles(lat: Float64Array): ReaderResult {
  lat.sort();
  const n = lat.length;
  const q = (f: number) => lat[Math.min(n - 1, Math.floor(n * f))]!;
  return { ok: true, messages: n, p50: q(0.5), p99: q(0.99), p999: q(0.999), max: lat[n - 1]! };
}

/** Read a little-endian u64 array file as numbers (all values < 2^53). */
export function readU64File(path: string): number[] {
  const bytes = Deno.readFileSync(path);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let o = 0; o + 8 <= bytes.length; o += 8) out.push(Number(dv.getBigUint64(o, true)));
  return out;
}

/** Bytes a directory tree occupies on disk (allocated blocks). */
export function duBytes(path: string): number {
  let total = 0;
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory) return st.blocks !== null ? st.blocks * 512 : st.size;
  for (const e of Deno.readDirSync(path)) total += duBytes(`${path}/${e.name}`);
  return total;
}
