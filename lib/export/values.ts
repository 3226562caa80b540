/**
 * Conversions the binary formats share: the timestamp's range check and
 * strings to UTF-8 offsets and bytes.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";

/**
 * Refuse timestamps a signed 64-bit microsecond column cannot hold (at or
 * after 2^63 µs, the year 294247), rather than write them negative.
 *
 * @param ts the timestamp column
 * @param name the timestamp field, for the message
 */
export function checkTimestamps(ts: BigUint64Array, name: string): void {
  // The high 32-bit word of each value: no BigInt per record.
  const words = new Uint32Array(ts.buffer, ts.byteOffset, ts.length * 2);
  for (let i = 1; i < words.length; i += 2) {
    if (words[i]! >= 0x80000000) {
      throw new DeepwaterError(
        "INVALID_VALUE",
        `Cannot export timestamp field "${name}": value ${
          ts[i >> 1]
        } is beyond the largest timestamp a 64-bit microsecond column holds (2^63-1): export a range before it with --end`,
      );
    }
  }
}

/**
 * UTF-8 bytes and int32 offsets of `n` strings (Arrow's Utf8 layout).
 *
 * @param strings the values
 * @param n how many
 * @param maxBytes the most UTF-8 bytes one value can take
 * @returns offsets (n + 1) and the bytes they index
 */
export function utf8Column(
  strings: string[],
  n: number,
  maxBytes: number,
): { offsets: Int32Array; bytes: Uint8Array } {
  const offsets = new Int32Array(n + 1);
  const buf = new Uint8Array(n * maxBytes);
  const encoder = new TextEncoder();
  let at = 0;
  for (let i = 0; i < n; i++) {
    at += encoder.encodeInto(strings[i]!, buf.subarray(at)).written;
    offsets[i + 1] = at;
  }
  return { offsets, bytes: buf.subarray(0, at) };
}
