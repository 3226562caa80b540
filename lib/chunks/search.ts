/**
 * Lower and upper bounds over the sorted timestamps of a run of fixed-size
 * records, read in place through a DataView: what a range read or a cursor
 * seek runs inside one chunk.
 *
 * Within a chunk, market-data timestamps are close to evenly spread, so a
 * probe placed by interpolation lands near the answer, and a gallop from
 * the probe (1, 2, 4, ... records) brackets it: a few cache misses where a
 * binary search over millions of records pays about twenty. Bursty data
 * cannot make it slow: a gallop is logarithmic in the distance it covers,
 * at most four probes are made, then a binary search finishes the bracket,
 * so the worst case stays O(log n). It runs in JavaScript because a call into
 * libdeepwater costs more than the search (BigInt arguments, an out-array):
 * ~0.1 µs per seek here against ~0.13–0.3 µs through FFI.
 *
 * Timestamps are uint64 read as two 32-bit halves into a number, exact up to
 * 2^53 (every timestamp a writer accepts). Damaged data bigger than that
 * compares approximately; the answer is still an index within 0..n, so a
 * damaged chunk can misplace a range, never make a read leave the run.
 *
 * @module
 */

/** 2^32, to join the halves of a uint64 read as two uint32s. */
const TWO32 = 4294967296;

/**
 * The first index in `0..n` whose timestamp is `>= target` (or `> target`
 * with `upper`), among `n` records sorted by timestamp.
 *
 * @param dv the run's bytes
 * @param first byte offset of the first record's timestamp
 * @param stride record size in bytes
 * @param n records in the run
 * @param target the timestamp sought
 * @param upper false: lower bound (first ts >= target); true: upper bound (first ts > target)
 * @returns the index
 * @example
 * ```ts
 * import { searchTs } from "./search.ts";
 * const dv = new DataView(new ArrayBuffer(5 * 16));
 * for (let i = 0; i < 5; i++) dv.setBigUint64(i * 16 + 8, BigInt(10 * i), true);
 * console.assert(searchTs(dv, 8, 16, 5, 25, false) === 3);
 * console.assert(searchTs(dv, 8, 16, 5, 20, true) === 3);
 * ```
 */
export function searchTs(
  dv: DataView,
  first: number,
  stride: number,
  n: number,
  target: number,
  upper: boolean,
): number {
  // Invariant: records before lo are before the target, records from hi on
  // are not.
  let lo = 0, hi = n;
  for (let probes = 0; probes < 4 && hi - lo > 32; probes++) {
    const tsLo = tsAt(dv, first + lo * stride), tsHi = tsAt(dv, first + (hi - 1) * stride);
    if (!before(tsLo, target, upper)) {
      hi = lo;
      break;
    }
    if (before(tsHi, target, upper)) {
      lo = hi;
      break;
    }
    // tsLo <= target <= tsHi and tsLo < tsHi here (unless damaged: NaN and
    // out-of-range probes are clamped into the range).
    let mid = lo + 1 + Math.floor((target - tsLo) / (tsHi - tsLo) * (hi - lo - 2));
    if (!(mid >= lo + 1)) mid = lo + 1;
    if (!(mid <= hi - 2)) mid = hi - 2;
    // Probe there, then gallop away from the probe (1, 2, 4, ... records)
    // until the answer is bracketed: evenly spread timestamps put it within
    // a record or two, so both ends close in on the same few cache lines.
    if (before(tsAt(dv, first + mid * stride), target, upper)) {
      lo = mid + 1;
      for (let step = 1; lo + step - 1 < hi; step *= 2) {
        const j = lo + step - 1;
        if (!before(tsAt(dv, first + j * stride), target, upper)) {
          hi = j;
          break;
        }
        lo = j + 1;
      }
    } else {
      hi = mid;
      for (let step = 1; hi - step >= lo; step *= 2) {
        const j = hi - step;
        if (before(tsAt(dv, first + j * stride), target, upper)) {
          lo = j + 1;
          break;
        }
        hi = j;
      }
    }
  }
  let len = hi - lo;
  while (len > 0) {
    const half = len >>> 1;
    if (before(tsAt(dv, first + (lo + half) * stride), target, upper)) {
      lo += half + 1;
      len -= half + 1;
    } else len = half;
  }
  return lo;
}

/** The uint64 timestamp at byte `o`, as a number (exact below 2^53). */
function tsAt(dv: DataView, o: number): number {
  return dv.getUint32(o + 4, true) * TWO32 + dv.getUint32(o, true);
}

/** Whether `ts` comes before the answer: `< target`, or `<= target` for an upper bound. */
function before(ts: number, target: number, upper: boolean): boolean {
  return upper ? ts <= target : ts < target;
}
