/**
 * A memory mapping owned by TypeScript: address, length, one ArrayBuffer
 * created once per mapping, and an idempotent close.
 *
 * Lifetime rule: every view over {@linkcode Mapping.buffer} is valid until
 * `close()`. Closing detaches the buffer before unmapping, so a view that
 * outlives its mapping reads `undefined` (typed arrays) or throws a
 * TypeError (DataView) instead of touching freed memory.
 *
 * Truncation rule: if another process truncates a mapped file, libdeepwater
 * contains the SIGBUS and replaces the lost pages with zeros (see
 * `c/deepwater.h`). Code that reads or writes through a mapping watches the
 * process-wide fault generation with a {@linkcode FaultWatch} after each
 * batch of accesses and throws `CORRUPT` (via
 * {@linkcode Mapping.checkFault}) before handing out anything it read.
 *
 * @module
 */
import { cstr, DW, native, unwrap } from "./binding.ts";
import { ENOSPC } from "./errno.ts";
import { DeepwaterError } from "../base/errors.ts";

/** How to open a mapping. */
export interface MapOptions {
  /** Bytes to map; 0 or omitted maps the whole file. Required with `create`. */
  length?: number;
  /** Map read-write (default read-only). */
  write?: boolean;
  /** Create/extend the file to `length` (fallocate; shm objects exclusive, mode 0600). */
  create?: boolean;
  /** With `create`: fail if the file exists. */
  exclusive?: boolean;
  /** Write-touch every page up front (for a writer's next chunk). */
  prefault?: boolean;
  /** Read-fault every page up front (MAP_POPULATE). */
  populate?: boolean;
}

/** -ENXIO: libdeepwater's "the file is shorter than the length asked for". */
const ENXIO = -6;

function flagsOf(o: MapOptions): number {
  return (o.write ? DW.MAP_WRITE : 0) | (o.create ? DW.MAP_CREATE : 0) |
    (o.exclusive ? DW.MAP_EXCL : 0) | (o.prefault ? DW.MAP_PREFAULT : 0) |
    (o.populate ? DW.MAP_POPULATE : 0);
}

/** Largest single mapping Deepwater makes (1 GiB chunks plus slack). */
export const MAX_MAPPING = 2 ** 31;

/** A mapped file or shared-memory object. */
export class Mapping {
  /** Base address of the mapping. */
  readonly addr: bigint;
  /** Mapped bytes. */
  readonly length: number;
  /** File (or shm object) size when mapped. */
  readonly fileSize: number;
  /** File path or shm name, for messages. */
  readonly path: string;
  /** Pointer-backed buffer over the whole mapping (see the lifetime rule). */
  readonly buffer: ArrayBuffer;
  #open = true;

  private constructor(path: string, out: BigUint64Array) {
    this.path = path;
    this.addr = out[0]!;
    this.length = Number(out[1]!);
    this.fileSize = Number(out[2]!);
    const ptr = Deno.UnsafePointer.create(this.addr);
    if (ptr === null) throw new DeepwaterError("IO", `Mapping of "${path}" returned null`);
    this.buffer = Deno.UnsafePointerView.getArrayBuffer(ptr, this.length);
  }

  /**
   * Map a file.
   *
   * @param path file path
   * @param options see {@linkcode MapOptions}
   * @returns the mapping
   */
  static file(path: string, options: MapOptions = {}): Mapping {
    const len = checkLength(path, options.length ?? 0);
    const out = new BigUint64Array(4);
    const rc = native().dw_map_file(cstr(path), BigInt(len), flagsOf(options), out);
    // libdeepwater refuses to map past the end of a file (touching such a
    // page raises SIGBUS): a file shorter than its caller needs is damage.
    if (rc === ENXIO || (rc === DW.EINVAL && !options.create)) {
      throw new DeepwaterError(
        "CORRUPT",
        `"${path}" is ${
          rc === ENXIO ? `shorter than the ${len} bytes it must hold` : "empty"
        }: run deepwater-repair, or restore it from a backup`,
        { path, errno: rc },
      );
    }
    unwrap(rc, "Cannot map", path);
    return new Mapping(path, out);
  }

  /**
   * Start mapping a file on a worker thread (non-blocking FFI), so creating
   * and pre-faulting a large file does not stall the caller. The result is
   * polled with {@linkcode PendingMapping.poll}, which works even while the
   * caller never yields to its event loop.
   *
   * @param path file path
   * @param options see {@linkcode MapOptions}
   * @returns the pending mapping
   */
  static begin(path: string, options: MapOptions = {}): PendingMapping {
    const len = checkLength(path, options.length ?? 0);
    return new PendingMapping(path, len, flagsOf(options), (out) => new Mapping(path, out));
  }

  /**
   * Map a POSIX shared-memory object.
   *
   * @param name object name, starting with "/"
   * @param options see {@linkcode MapOptions}
   * @returns the mapping
   */
  static shm(name: string, options: MapOptions = {}): Mapping {
    const len = checkLength(name, options.length ?? 0);
    const out = new BigUint64Array(4);
    const rc = native().dw_shm_map(cstr(name), BigInt(len), flagsOf(options), out);
    if (rc === ENOSPC) {
      throw new DeepwaterError(
        "IO",
        `Cannot create shared memory "${name}" of ${len} bytes: /dev/shm is full: free shared memory (df /dev/shm) or lower the feed's chunk_size_mb`,
        { path: name, errno: rc },
      );
    }
    unwrap(rc, "Cannot map shared memory", name);
    return new Mapping(name, out);
  }

  /** Whether the mapping is still open. */
  get isOpen(): boolean {
    return this.#open;
  }

  /**
   * Throw `CORRUPT` if another process truncated the file under this
   * mapping (libdeepwater then replaced the missing pages with zeros, so
   * whatever was read or written through them since is not real data).
   *
   * @param fix what the message tells the user to do
   */
  checkFault(fix = "run deepwater-repair"): void {
    if (!this.#open || native().dw_mapping_faulted(this.addr) !== 1) return;
    throw new DeepwaterError(
      "CORRUPT",
      `"${this.path}" was truncated by another process while mapped: data past its new end is gone: ${fix}`,
      { path: this.path },
    );
  }

  /**
   * Flush a byte range to storage (files only).
   *
   * @param offset first byte
   * @param length bytes to flush
   * @param sync wait for completion (MS_SYNC) rather than schedule (MS_ASYNC)
   */
  msync(offset: number, length: number, sync: boolean): void {
    if (!this.#open) return;
    if (offset < 0 || length < 0 || offset + length > this.length) {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `msync range ${offset}+${length} is outside mapping of "${this.path}"`,
      );
    }
    unwrap(
      native().dw_msync(this.addr + BigInt(offset), BigInt(length), sync ? 1 : 0),
      "Cannot msync",
      this.path,
    );
  }

  /**
   * Detach the buffer and unmap. Idempotent.
   *
   * @param options `background`: run the munmap on a worker thread (tearing
   *   down a large mapping's page tables takes milliseconds); the buffer is
   *   detached first either way, so no view can reach the memory.
   */
  close(options: { background?: boolean } = {}): void {
    if (!this.#open) return;
    this.#open = false;
    this.buffer.transfer(0); // detaches without copying (structuredClone would copy the contents)
    if (options.background) void native().dw_unmap_async(this.addr, BigInt(this.length));
    else native().dw_unmap(this.addr, BigInt(this.length));
  }

  /** Same as {@linkcode Mapping.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

let faultWord: Uint32Array | undefined;

/**
 * Notices SIGBUS faults that libdeepwater contained, with one `Atomics.load`
 * of the process-wide fault generation per check. Each holder keeps the
 * generation it last settled at; only when it moved does it ask its own
 * mappings which one faulted.
 */
export class FaultWatch {
  /** The fault generation word (a view over libdeepwater's counter). */
  readonly word: Uint32Array;
  /** Generation at the last settle. */
  seen: number;

  constructor() {
    if (!faultWord) {
      const ptr = Deno.UnsafePointer.create(BigInt(native().dw_fault_counter()));
      if (ptr === null) throw new DeepwaterError("LIBRARY", "libdeepwater has no fault counter");
      faultWord = new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(ptr, 4));
    }
    this.word = faultWord;
    this.seen = Atomics.load(faultWord, 0);
  }

  /** Whether any mapping in this process faulted since the last settle (one atomic load). */
  get changed(): boolean {
    return Atomics.load(this.word, 0) !== this.seen;
  }

  /**
   * Throw `CORRUPT` for the first of `maps` that faulted; if none did (the
   * fault hit another holder's mapping), remember the generation.
   *
   * @param maps the holder's mappings (undefined and null entries are skipped)
   * @param fix what the message tells the user to do
   */
  settle(maps: Iterable<Mapping | undefined | null>, fix: string): void {
    const gen = Atomics.load(this.word, 0);
    for (const m of maps) m?.checkFault(fix);
    this.seen = gen;
  }
}

function checkLength(path: string, len: number): number {
  if (!Number.isSafeInteger(len) || len < 0 || len > MAX_MAPPING) {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `Cannot map "${path}": length ${len} is outside 0..${MAX_MAPPING}`,
      { path },
    );
  }
  return len;
}

/**
 * A mapping being created on a worker thread. The C side stores a completion
 * word last (release), so {@linkcode PendingMapping.poll} needs no event loop.
 */
export class PendingMapping {
  /** File path. */
  readonly path: string;
  readonly #out = new BigUint64Array(4);
  readonly #name: Uint8Array<ArrayBuffer>;
  readonly #make: (out: BigUint64Array) => Mapping;
  #taken = false;
  /** Settles once the worker has finished, whatever the outcome. */
  readonly done: Promise<void>;

  /** @internal */
  constructor(path: string, len: number, flags: number, make: (out: BigUint64Array) => Mapping) {
    this.path = path;
    this.#make = make;
    this.#name = cstr(path);
    // The continuation holds the argument buffers until the worker returns,
    // even if this object is dropped first: C writes into #out.
    const out = this.#out, name = this.#name;
    this.done = native().dw_map_file_async(name, BigInt(len), flags, out).then(() => {
      void [out, name];
    });
  }

  /**
   * The mapping if the worker finished successfully, `undefined` while it is
   * still running; throws if it failed. Returns the mapping at most once.
   */
  poll(): Mapping | undefined {
    if (this.#taken) return undefined;
    const state = Atomics.load(this.#out, 3);
    if (state === 0n) return undefined;
    this.#taken = true;
    if (state !== 1n) {
      throw new DeepwaterError("IO", `Cannot prepare "${this.path}" in the background`, {
        path: this.path,
      });
    }
    return this.#make(this.#out);
  }

  /**
   * Wait (spinning on the completion word, never on the event loop) until the
   * worker finishes, then return the mapping; throws if it failed.
   */
  wait(): Mapping {
    if (this.#taken) {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Pending mapping of "${this.path}" was already used`,
      );
    }
    const p = Deno.UnsafePointer.of(this.#out);
    const addr = BigInt(Deno.UnsafePointer.value(p)) + 24n;
    const seen = new BigUint64Array(1);
    while (Atomics.load(this.#out, 3) === 0n) {
      native().dw_spin_while_u64(addr, 0n, 1n << 20n, seen);
    }
    return this.poll()!;
  }

  /**
   * Give the result up without waiting: the mapping, if the worker makes
   * one, is unmapped once it finishes (on the event loop).
   */
  discard(): void {
    if (this.#taken) return;
    void this.done.then(() => this.poll()?.close(), () => {});
  }
}

/**
 * Remove a POSIX shared-memory object's name. Processes that have it mapped
 * keep their mapping; the memory is freed when the last one unmaps.
 *
 * @param name object name, starting with "/"
 * @returns whether a name was removed (false when there was none or it could not be)
 */
export function unlinkShm(name: string): boolean {
  return native().dw_shm_unlink(cstr(name)) === 0;
}
