/**
 * Timestamp scans over mapped records, and copies that scan what they copy
 * (libdeepwater). Results come back through module-level out-arrays, so a
 * call allocates nothing but its result.
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

/**
 * The address of a Uint8Array's bytes for the scan and copy calls (0n for an
 * empty one).
 *
 * @example
 * ```ts
 * import { bytesAddress } from "./scan.ts";
 * bytesAddress(new Uint8Array(8)); // a non-zero bigint
 * ```
 *
 * @param bytes the array
 * @returns its address
 */
export function bytesAddress(bytes: Uint8Array): bigint {
  const p = Deno.UnsafePointer.of(bytes as Uint8Array<ArrayBuffer>);
  return p === null ? 0n : BigInt(Deno.UnsafePointer.value(p));
}
