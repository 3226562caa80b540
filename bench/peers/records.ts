/**
 * The records, dataset and query plan every system in the side-by-side
 * benchmark works on, so all of them store the same bytes and answer the same
 * questions (and their answers can be checked against each other).
 *
 * - trade (24 bytes, the seed's feed): price f64, size f64, timestamp_us u64.
 * - quote (32 bytes): bid f64, ask f64, bid_size f32, ask_size f32, timestamp_us u64.
 *
 * Record i has timestamp T0 + 10 i + (i mod 7): strictly increasing, unique,
 * unevenly spaced. `size` / `bid_size` is the integer 1 + (i mod 50), so sums
 * over windows are exact in every system whatever its summation order.
 *
 * @module
 */

/** A record shape of the benchmark. */
export interface RecordType {
  /** "trade" or "quote". */
  name: RecordName;
  /** Bytes per record. */
  size: number;
  /** Byte offset of the u64 timestamp. */
  tsOffset: number;
  /** Byte offset of the integer-valued quantity summed by the window workload. */
  qtyOffset: number;
  /** Whether that quantity is a float32 (else float64). */
  qtyIsF32: boolean;
  /** Deepwater feed fields, in record order. */
  fields: { name: string; type: "float64" | "float32" | "uint64" }[];
}

/** Record shape names. */
export type RecordName = "trade" | "quote";

/** The two record shapes. */
export const RECORDS: Record<RecordName, RecordType> = {
  trade: {
    name: "trade",
    size: 24,
    tsOffset: 16,
    qtyOffset: 8,
    qtyIsF32: false,
    fields: [
      { name: "price", type: "float64" },
      { name: "size", type: "float64" },
      { name: "timestamp_us", type: "uint64" },
    ],
  },
  quote: {
    name: "quote",
    size: 32,
    tsOffset: 24,
    qtyOffset: 16,
    qtyIsF32: true,
    fields: [
      { name: "bid", type: "float64" },
      { name: "ask", type: "float64" },
      { name: "bid_size", type: "float32" },
      { name: "ask_size", type: "float32" },
      { name: "timestamp_us", type: "uint64" },
    ],
  },
};

/** First timestamp (µs): 2026-01-31T12:00:00Z. */
export const T0 = 1_769_860_800_000_000;

/** Timestamp of record i. */
export function tsOf(i: number): number {
  return T0 + 10 * i + (i % 7);
}

/** The summed quantity of record i. */
export function qtyOf(i: number): number {
  return 1 + (i % 50);
}

/**
 * Pack records [from, to) of a shape into `out` (little-endian).
 *
 * @param rt record shape
 * @param from first record index
 * @param to end index (exclusive)
 * @param out destination, at least (to - from) * rt.size bytes
 */
export function packRecords(rt: RecordType, from: number, to: number, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = from; i < to; i++) {
    const o = (i - from) * rt.size;
    const px = 100 + (i % 1000) * 0.01;
    if (rt.name === "trade") {
      dv.setFloat64(o, px, true);
      dv.setFloat64(o + 8, qtyOf(i), true);
    } else {
      dv.setFloat64(o, px, true);
      dv.setFloat64(o + 8, px + 0.01, true);
      dv.setFloat32(o + 16, qtyOf(i), true);
      dv.setFloat32(o + 20, 1 + (i % 30), true);
    }
    dv.setBigUint64(o + rt.tsOffset, BigInt(tsOf(i)), true);
  }
}

/**
 * Write the dataset file for a shape: `n` packed records, back to back.
 *
 * @param rt record shape
 * @param n record count
 * @param path file to write
 */
export function writeDataset(rt: RecordType, n: number, path: string): void {
  const step = 1 << 20;
  using f = Deno.openSync(path, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(step * rt.size);
  for (let i = 0; i < n; i += step) {
    const k = Math.min(step, n - i);
    packRecords(rt, i, i + k, buf);
    let off = 0;
    const part = buf.subarray(0, k * rt.size);
    while (off < part.length) off += f.writeSync(part.subarray(off));
  }
}

/** Deterministic xorshift generator in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** The questions of the query workload, identical for every system. */
export interface QueryPlan {
  /** Seek targets (µs): each asks for the first record with ts >= target. */
  seeks: number[];
  /** Windows [start, end] (µs, both inclusive), each holding exactly `windowRecords` records. */
  windows: [number, number][];
  /** Records per window. */
  windowRecords: number;
}

/**
 * The query plan for `n` records: `seeks` random targets anywhere in the
 * data's span, and `windows` windows of `windowRecords` consecutive records.
 */
export function queryPlan(
  n: number,
  seeks = 100_000,
  windows = 1000,
  windowRecords = 10_000,
): QueryPlan {
  const r = rng(0x5eed);
  const span = tsOf(n - 1) - T0;
  const plan: QueryPlan = { seeks: [], windows: [], windowRecords };
  for (let i = 0; i < seeks; i++) plan.seeks.push(T0 + Math.floor(r() * span));
  const w = Math.min(windowRecords, n);
  for (let i = 0; i < windows; i++) {
    const first = Math.floor(r() * (n - w + 1));
    plan.windows.push([tsOf(first), tsOf(first + w - 1)]);
  }
  return plan;
}

/** Index of the first record with ts >= target (n when none). */
export function lowerBound(n: number, target: number): number {
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tsOf(mid) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The answers every system must give: for the first `k` seeks, the sum of
 * (found ts - T0) (a seek past the end adds nothing); for the first `m`
 * windows, the sum of the quantity over every record inside.
 */
export function expectedChecks(
  n: number,
  plan: QueryPlan,
  k: number,
  m: number,
): { seek: number; window: number } {
  let seek = 0;
  for (let i = 0; i < k; i++) {
    const j = lowerBound(n, plan.seeks[i]!);
    if (j < n) seek += tsOf(j) - T0;
  }
  let window = 0;
  for (let i = 0; i < m; i++) {
    const [a, b] = plan.windows[i]!;
    for (let j = lowerBound(n, a); j < n && tsOf(j) <= b; j++) window += qtyOf(j);
  }
  return { seek, window };
}
