/**
 * Seqlocked slots in a shared mapping (the ring's slot protocol, see
 * `ring/format.ts`), through libdeepwater: a writer marks a slot odd before
 * rewriting it and even after; a reader copies a slot only when it holds the
 * same even value before and after the copy.
 *
 * Both halves need a fence JavaScript cannot express: after the writer's odd
 * store (so the new bytes are not seen before it) and between the reader's
 * copy and its second load (so the copy is not read after it). `Atomics`
 * orders only one side of each store or load, which x86-64 does not need
 * but arm64 does. Here each half is one fast FFI call (`dw_seq_claim`,
 * `dw_seq_read`) that also costs less than the `Atomics` it replaces.
 *
 * Every range is checked against the mapping and the destination before a
 * call: the C side copies what it is told.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { native, type Symbols, unwrap } from "./binding.ts";
import type { Mapping } from "./mapping.ts";

/** Seqlocked slots of one mapping (which the caller keeps open while using this). */
export class SeqSlots {
  readonly #base: bigint;
  readonly #length: number;
  readonly #path: string;
  readonly #claim: Symbols["dw_seq_claim"];
  readonly #read: Symbols["dw_seq_read"];
  #dst: Uint8Array | undefined;
  #dstPtr: Deno.PointerValue = null;

  /**
   * @param map the mapping holding the slots
   * @example
   * ```ts
   * import { Mapping } from "./mapping.ts";
   * import { SeqSlots } from "./seqlock.ts";
   * const dir = Deno.makeTempDirSync();
   * {
   *   using map = Mapping.file(`${dir}/slots`, { length: 4096, write: true, create: true });
   *   const slots = new SeqSlots(map);
   *   slots.claim(0, 1); // slot at byte 0: odd, being written
   *   new Uint8Array(map.buffer).set([7, 7, 7], 8);
   *   Atomics.store(new Uint32Array(map.buffer), 0, 2); // even: complete
   *   const out = new Uint8Array(new ArrayBuffer(3));
   *   console.assert(slots.read(out, 0, 0, 2, 8, 3) && out[2] === 7);
   *   console.assert(!slots.read(out, 0, 0, 4, 8, 3)); // not the value wanted
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  constructor(map: Mapping) {
    this.#base = map.addr;
    this.#length = map.length;
    this.#path = map.path;
    this.#claim = native().dw_seq_claim;
    this.#read = native().dw_seq_read;
  }

  /**
   * Mark the slot whose sequence word is u32 `word` as being written (odd
   * `value`), ordered before every store that follows.
   *
   * @param word u32 index of the slot's sequence word
   * @param value the odd sequence value
   */
  claim(word: number, value: number): void {
    if (!this.#inside(word * 4, 4)) this.#outside(word * 4, 4);
    unwrap(this.#claim(this.#base, word, value), "Cannot claim a slot in", this.#path);
  }

  /**
   * Copy `len` bytes at byte `offset` of the mapping into `dst` at `at`
   * when the sequence word `word` holds `want` before and after.
   *
   * @param dst destination; its buffer must be an ArrayBuffer made with `new ArrayBuffer` (off the heap, never moved)
   * @param at byte offset in `dst`
   * @param word u32 index of the slot's sequence word
   * @param want the even value of a complete slot
   * @param offset byte offset of the slot's bytes in the mapping
   * @param len bytes to copy
   * @returns true when the copy is intact
   */
  read(
    dst: Uint8Array,
    at: number,
    word: number,
    want: number,
    offset: number,
    len: number,
  ): boolean {
    if (!this.#inside(offset, len)) this.#outside(offset, len);
    if (!this.#inside(word * 4, 4)) this.#outside(word * 4, 4);
    if (!(at >= 0 && at + len <= dst.length)) {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Cannot copy ${len} bytes to offset ${at} of a ${dst.length}-byte buffer`,
      );
    }
    if (dst !== this.#dst) {
      this.#dst = dst;
      this.#dstPtr = Deno.UnsafePointer.of(dst as Uint8Array<ArrayBuffer>);
    }
    const rc = this.#read(this.#dstPtr, at, this.#base, word, want, offset, len);
    if (rc === 0) return true;
    if (rc !== 1) unwrap(rc, "Cannot read a slot of", this.#path); // throws: rc is a status
    return false;
  }

  /** Whether bytes `offset..offset+len` lie in the mapping and in u32 range (integers >= 0). */
  #inside(offset: number, len: number): boolean {
    return offset >= 0 && len >= 0 && offset + len <= this.#length && offset + len <= 2 ** 32;
  }

  #outside(offset: number, len: number): never {
    throw new DeepwaterError(
      "CORRUPT",
      `Slot bytes ${offset}..${
        offset + len
      } lie outside the ${this.#length}-byte mapping "${this.#path}"`,
      { path: this.#path },
    );
  }
}
