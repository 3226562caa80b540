/**
 * CRC32C (Castagnoli), the checksum of every header and metadata entry.
 *
 * @module
 */
import { native, unwrap } from "./binding.ts";

const crcOut = new Uint32Array(1);

/**
 * CRC32C of `bytes` (via libdeepwater).
 *
 * @param bytes the bytes to check
 * @returns the checksum
 */
export function crc32c(bytes: Uint8Array<ArrayBuffer>): number {
  unwrap(native().dw_crc32c(bytes, BigInt(bytes.length), 0, crcOut), "Cannot compute CRC32C");
  return crcOut[0]!;
}
