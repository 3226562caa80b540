/**
 * Timestamp scans over mapped records (libdeepwater, no copy).
 *
 * @module
 */
import { native, unwrap } from "./binding.ts";

/** Result of scanning timestamps. */
export interface TsScan {
  /** Smallest. */
  min: number;
  /** Largest. */
  max: number;
  /** First in order. */
  first: number;
  /** Last in order. */
  last: number;
  /** Non-decreasing. */
  sorted: boolean;
  /** Some value exceeds 2^53-1. */
  big: boolean;
}

const scanOut = new BigUint64Array(6);

/**
 * Scan `n` records' timestamps at an address (libdeepwater, no copy).
 *
 * @param addr address of the first record
 * @param n record count
 * @param recordSize stride
 * @param tsOffset timestamp offset
 * @returns min/max/first/last/sorted/big
 */
export function scanTs(addr: bigint, n: number, recordSize: number, tsOffset: number): TsScan {
  unwrap(
    native().dw_scan_ts(addr, BigInt(n), recordSize, tsOffset, scanOut),
    "Cannot scan timestamps",
  );
  return scanResult();
}

function scanResult(): TsScan {
  return {
    min: Number(scanOut[0]),
    max: Number(scanOut[1]),
    first: Number(scanOut[2]),
    last: Number(scanOut[3]),
    sorted: scanOut[4] === 1n,
    big: scanOut[5] === 1n,
  };
}

/** {@linkcode scanTs} fused with a copy of the records from `src` to `dst`. */
export function copyScan(
  dst: bigint,
  src: bigint,
  n: number,
  recordSize: number,
  tsOffset: number,
): TsScan {
  unwrap(
    native().dw_copy_scan(dst, src, BigInt(n), recordSize, tsOffset, scanOut),
    "Cannot copy records",
  );
  return scanResult();
}
