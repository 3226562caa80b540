/**
 * Column gather (libdeepwater `dw_gather`): copy one field out of a run of
 * fixed-size records into a packed column, at memory speed. The source is a
 * mapped address or a JS buffer; the destination is always a JS buffer
 * (a typed array's bytes), so nothing here hands out raw memory.
 *
 * @module
 */
import { native, unwrap } from "./binding.ts";

/**
 * Gather `width` bytes at `offset` of each of `count` records of `stride`
 * bytes starting at address `src` into `dst` (which must hold count * width
 * bytes; checked).
 *
 * @param dst the column's bytes
 * @param src address of the first record (a mapping the caller holds)
 * @param count records
 * @param stride record size
 * @param offset the field's offset in a record
 * @param width the field's size
 */
export function gatherFrom(
  dst: Uint8Array,
  src: bigint,
  count: number,
  stride: number,
  offset: number,
  width: number,
): void {
  if (count === 0) return;
  checkDst(dst, count, width);
  unwrap(
    native().dw_gather(dst, src, BigInt(count), stride, offset, width),
    "Cannot gather column",
  );
}

/**
 * {@linkcode gatherFrom} with the records in a JS buffer (`src` must hold
 * count * stride bytes; checked).
 *
 * @param dst the column's bytes
 * @param src the records
 * @param count records
 * @param stride record size
 * @param offset the field's offset in a record
 * @param width the field's size
 */
export function gatherFromBytes(
  dst: Uint8Array,
  src: Uint8Array,
  count: number,
  stride: number,
  offset: number,
  width: number,
): void {
  if (count === 0) return;
  checkDst(dst, count, width);
  if (src.byteLength < count * stride) {
    throw new RangeError(`gather: ${count} records of ${stride} bytes need ${count * stride}`);
  }
  unwrap(
    native().dw_gather_buf(
      dst,
      src as Uint8Array<ArrayBuffer>,
      BigInt(count),
      stride,
      offset,
      width,
    ),
    "Cannot gather column",
  );
}

function checkDst(dst: Uint8Array, count: number, width: number): void {
  if (dst.byteLength < count * width) {
    throw new RangeError(`gather: ${count} values of ${width} bytes need ${count * width}`);
  }
}
