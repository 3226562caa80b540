/**
 * Named consumers: where each one left off in a feed, kept in
 * `<feed>/consumer-<name>.dwq` (this module owns the file), so a stream with
 * `{ consumer }` resumes after the last record it acknowledged, in any
 * process, across restarts and SIGKILL.
 *
 * A position is two numbers whose meaning belongs to the storage kind:
 * chunk feeds `(chunk id, record index)`, rings `(incarnation nonce,
 * serial)`; it names the next record to deliver. The file holds a base
 * position and an acknowledged count past it:
 *
 * ```
 * header (64 bytes): u32 magic, u32 format version (stored last), u32 header
 *   size (64), u32 kind (1 chunks, 2 ring), u32 seq (the active slot is
 *   slot[seq & 1]; 0: no position yet), 44 bytes reserved
 * slot 0 at 64, slot 1 at 128 (64 bytes each):
 *   u64 seq, u64 a, u64 b, u64 updated (µs, wall clock), u32 CRC32C of the
 *   slot's bytes 0..32, u32 reserved, u32 k, u32 ~k, 16 bytes reserved
 * ```
 *
 * The position is `(a, b + k)`. Only the process holding the consumer's lock
 * (flock on the file itself) writes it. Acknowledging a record stores `k`
 * then `~k`: two aligned stores into the mapping, no syscall. A new base
 * (a run of records starting elsewhere: another chunk) is written whole into
 * the inactive slot, with its CRC, and then made active by one release
 * store of `seq`. A process killed at any instant leaves either slot intact
 * and `seq` naming a complete one; a kill between the two stores of an
 * acknowledgement leaves `~k` one behind, which the open accepts (`k` is
 * then the newer value). Anything else is `CORRUPT`, never a guessed
 * position.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { FORMAT_VERSION } from "../base/version.ts";
import { consumerName } from "../base/input.ts";
import { crc32c } from "../native/checksum.ts";
import { FileLock } from "../native/lock.ts";
import { Mapping } from "../native/mapping.ts";
import { checkHeader, setU64, u64 } from "../schema/header.ts";
import type { BasePaths } from "../directory/paths.ts";
import { consumerOfFile } from "../directory/paths.ts";

/** "DWQC", little-endian. */
const CONSUMER_MAGIC = 0x43515744;
const HEADER = 64;
const SLOT = 64;
/** Bytes the file holds. */
const FILE_SIZE = HEADER + 2 * SLOT;

/** The header, written once when the file is initialised, version last. */
const CONSUMER_FIELDS = {
  /** u32 magic "DWQC". */
  magic: 0,
  /** u32 format version, stored last. */
  version: 4,
  /** u32 header size (64). */
  headerSize: 8,
  /** u32 storage kind of the positions (1 chunks, 2 ring). */
  kind: 12,
  /** u32 activation count: slot[seq & 1] is current; 0 means no position yet. Release store. */
  seq: 16,
} as const;

/** A slot: a base position, written whole before `seq` activates it. */
const SLOT_FIELDS = {
  /** u64 the `seq` that activates this slot. */
  seq: 0,
  /** u64 first half of the base position (chunk id, or ring nonce). */
  a: 8,
  /** u64 second half (record index, or ring serial, not wrapped). */
  b: 16,
  /** u64 when the slot was written (µs since the epoch). */
  updated: 24,
  /** u32 CRC32C of bytes 0..32. */
  crc: 32,
  /** u32 records acknowledged past the base. */
  k: 40,
  /** u32 bitwise complement of k, stored after it. */
  notK: 44,
} as const;

/** Which storage kind's positions a consumer file holds. */
const KIND_CODE = { chunks: 1, ring: 2 } as const;

/** A stored position: next record to deliver is `(a, b)` (`b` already includes the acknowledged count). */
export interface ConsumerPosition {
  /** Chunk id, or ring nonce. */
  a: number;
  /** Record index in the chunk, or ring serial (not wrapped to 32 bits). */
  b: number;
  /** When the base was last written (µs since the epoch). */
  updatedUs: number;
}

/** What to do with a damaged consumer file. */
function fixFor(path: string, name: string, feed: string): string {
  return `remove it (deepwater consumers ${feed} --remove ${name}, or delete "${path}"); the consumer then starts again as new (at "from", or the live head)`;
}

/**
 * Read a consumer file's position after checking everything: header, the
 * active slot's sequence and checksum, and the acknowledged count.
 */
function readPosition(
  dv: DataView,
  path: string,
  what: string,
  fix: string,
): ConsumerPosition | undefined {
  checkHeader(new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength), {
    magic: CONSUMER_MAGIC,
    headerSize: HEADER,
    what,
    path,
    fix,
  });
  const corrupt = (why: string) =>
    new DeepwaterError("CORRUPT", `${what} "${path}" is corrupt: ${why}: ${fix}`, { path });
  if (dv.byteLength < FILE_SIZE) throw corrupt(`${dv.byteLength} bytes, expected ${FILE_SIZE}`);
  const seq = dv.getUint32(CONSUMER_FIELDS.seq, true);
  if (seq === 0) return undefined;
  const o = HEADER + (seq & 1) * SLOT;
  const crc = crc32c(new Uint8Array(dv.buffer, o, SLOT_FIELDS.crc).slice());
  if (crc !== dv.getUint32(o + SLOT_FIELDS.crc, true)) {
    throw corrupt(`slot ${seq & 1} fails its checksum`);
  }
  if (u64(dv, o + SLOT_FIELDS.seq) !== seq) throw corrupt(`slot ${seq & 1} is not the active one`);
  const k = dv.getUint32(o + SLOT_FIELDS.k, true);
  const notK = dv.getUint32(o + SLOT_FIELDS.notK, true);
  // A kill between the two stores of an acknowledgement leaves ~k one behind.
  if (notK !== (~k >>> 0) && !(k > 0 && notK === (~(k - 1) >>> 0))) {
    throw corrupt(`its acknowledged count ${k} fails its check word`);
  }
  return {
    a: u64(dv, o + SLOT_FIELDS.a),
    b: u64(dv, o + SLOT_FIELDS.b) + k,
    updatedUs: u64(dv, o + SLOT_FIELDS.updated),
  };
}

/**
 * One named consumer's file, open and locked for its stream: where it left
 * off, and the two writes that move it on.
 */
export class ConsumerFile {
  /** Consumer name. */
  readonly name: string;
  /** The file. */
  readonly path: string;
  /** Where the consumer left off, or undefined on its first run. */
  readonly position: ConsumerPosition | undefined;
  readonly #lock: FileLock;
  readonly #map: Mapping;
  readonly #dv: DataView;
  readonly #u32: Uint32Array;
  #kOff = 0;
  #seq: number;
  #open = true;

  private constructor(
    name: string,
    lock: FileLock,
    map: Mapping,
    position: ConsumerPosition | undefined,
  ) {
    this.name = name;
    this.path = map.path;
    this.#lock = lock;
    this.#map = map;
    this.#dv = new DataView(map.buffer);
    this.#u32 = new Uint32Array(map.buffer, 0, FILE_SIZE >> 2);
    this.position = position;
    this.#seq = this.#dv.getUint32(CONSUMER_FIELDS.seq, true);
    this.#kOff = (HEADER + (this.#seq & 1) * SLOT + SLOT_FIELDS.k) >> 2;
  }

  /**
   * Lock and open consumer `name` of `feed` (creating its file on the first
   * run).
   *
   * @param paths the data directory
   * @param feed the feed
   * @param name the consumer (checked here)
   * @param kind the feed's storage kind (a file of the other kind is `CORRUPT`)
   * @returns the open file; `CONSUMER_LOCKED` while another stream has it
   */
  static open(paths: BasePaths, feed: string, name: string, kind: "chunks" | "ring"): ConsumerFile {
    consumerName(name);
    const path = paths.consumer(feed, name);
    const lock = FileLock.tryAcquire(path, { action: `Cannot lock consumer "${name}"` });
    if (!lock) {
      throw new DeepwaterError(
        "CONSUMER_LOCKED",
        `Cannot stream as consumer "${name}" of "${feed}": another stream (in this or another process) is using it: end that stream first, or use another consumer name`,
        { path },
      );
    }
    let map: Mapping | undefined;
    try {
      map = Mapping.file(path, { length: FILE_SIZE, write: true, create: true });
      const dv = new DataView(map.buffer);
      // The lock is ours: a file whose version was never stored was never
      // used (its first position is written after it), so (re)initialise it.
      if (dv.getUint32(CONSUMER_FIELDS.version, true) === 0) {
        new Uint8Array(map.buffer, 0, FILE_SIZE).fill(0);
        dv.setUint32(CONSUMER_FIELDS.magic, CONSUMER_MAGIC, true);
        dv.setUint32(CONSUMER_FIELDS.headerSize, HEADER, true);
        dv.setUint32(CONSUMER_FIELDS.kind, KIND_CODE[kind], true);
        dv.setUint32(CONSUMER_FIELDS.version, FORMAT_VERSION, true);
      }
      const what = `Consumer file of "${name}"`;
      const fix = fixFor(path, name, feed);
      const position = readPosition(dv, path, what, fix);
      if (dv.getUint32(CONSUMER_FIELDS.kind, true) !== KIND_CODE[kind]) {
        throw new DeepwaterError(
          "CORRUPT",
          `${what} "${path}" holds positions of another storage kind than the feed's (${kind}): ${fix}`,
          { path },
        );
      }
      return new ConsumerFile(name, lock, map, position);
    } catch (e) {
      map?.close();
      lock.close();
      throw e;
    }
  }

  /**
   * Make `(a, b + k)` the position: write the inactive slot whole, then
   * activate it with one release store.
   *
   * @param a first half of the base position
   * @param b second half
   * @param k records acknowledged past it
   */
  commit(a: number, b: number, k: number): void {
    if (!this.#open) return;
    const seq = this.#seq + 1 >>> 0 || 2; // 0 means "no position": skip it on wrap
    const o = HEADER + (seq & 1) * SLOT;
    const dv = this.#dv;
    setU64(dv, o + SLOT_FIELDS.seq, seq);
    setU64(dv, o + SLOT_FIELDS.a, a);
    setU64(dv, o + SLOT_FIELDS.b, b);
    setU64(dv, o + SLOT_FIELDS.updated, Date.now() * 1000);
    dv.setUint32(
      o + SLOT_FIELDS.crc,
      crc32c(new Uint8Array(dv.buffer, o, SLOT_FIELDS.crc).slice()),
      true,
    );
    dv.setUint32(o + SLOT_FIELDS.k, k, true);
    dv.setUint32(o + SLOT_FIELDS.notK, ~k >>> 0, true);
    Atomics.store(this.#u32, CONSUMER_FIELDS.seq >> 2, seq);
    this.#seq = seq;
    this.#kOff = (o + SLOT_FIELDS.k) >> 2;
  }

  /**
   * Acknowledge up to `k` records past the active base: two stores, no
   * syscall (after close they land nowhere).
   *
   * @param k records acknowledged past the base
   */
  ack(k: number): void {
    const u32 = this.#u32;
    u32[this.#kOff] = k;
    u32[this.#kOff + 1] = ~k;
  }

  /** Whether the file is still open (its stream has not ended). */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Unmap and release the lock. Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#map.close();
    this.#lock.close();
  }
}

/** A named consumer as listed by {@linkcode listConsumers}. */
export interface ConsumerInfo {
  /** Consumer name. */
  name: string;
  /**
   * Where it resumes: chunk feeds `{ chunk, index }`, rings `{ nonce, serial }`;
   * undefined before its first stream stored one.
   */
  position: { chunk: number; index: number } | { nonce: number; serial: number } | undefined;
  /** When its base position was last written (µs since the epoch), or 0. */
  updatedUs: number;
  /** Whether a stream holds it right now (in any process). */
  active: boolean;
}

/**
 * The named consumers of a feed, by name. A damaged file is `CORRUPT`
 * naming it and the fix.
 *
 * @param paths the data directory
 * @param feed the feed
 * @returns the consumers, sorted by name
 */
export function listConsumers(paths: BasePaths, feed: string): ConsumerInfo[] {
  const out: ConsumerInfo[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(paths.feedDir(feed))];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  for (const e of entries) {
    const name = consumerOfFile(e.name);
    if (name === undefined || !e.isFile) continue;
    const path = paths.consumer(feed, name);
    const active = FileLock.probe(path, `Cannot probe consumer "${name}"`);
    let position: ConsumerPosition | undefined;
    let ring = false;
    // A file whose creator has not (or never) stored its version holds no position yet.
    if (Deno.lstatSync(path).size > 0) {
      using map = Mapping.file(path);
      const dv = new DataView(map.buffer);
      if (dv.byteLength < 8 || dv.getUint32(CONSUMER_FIELDS.version, true) !== 0) {
        position = readPosition(dv, path, `Consumer file of "${name}"`, fixFor(path, name, feed));
        ring = dv.getUint32(CONSUMER_FIELDS.kind, true) === KIND_CODE.ring;
      }
    }
    out.push({
      name,
      position: position === undefined
        ? undefined
        : ring
        ? { nonce: position.a, serial: position.b % 2 ** 32 }
        : { chunk: position.a, index: position.b },
      updatedUs: position?.updatedUs ?? 0,
      active,
    });
  }
  return out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/**
 * Forget a named consumer: its next stream starts as new.
 *
 * @param paths the data directory
 * @param feed the feed
 * @param name the consumer
 * @returns whether it existed; `CONSUMER_LOCKED` while a stream uses it
 */
export function removeConsumer(paths: BasePaths, feed: string, name: string): boolean {
  consumerName(name, "removeConsumer()");
  const path = paths.consumer(feed, name);
  try {
    if (!Deno.lstatSync(path).isFile) {
      throw new DeepwaterError(
        "CORRUPT",
        `Consumer file "${path}" is not a regular file: move it out of the feed's directory`,
        { path },
      );
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  using lock = FileLock.tryAcquire(path, { action: `Cannot lock consumer "${name}"` });
  if (!lock) {
    throw new DeepwaterError(
      "CONSUMER_LOCKED",
      `Cannot remove consumer "${name}" of "${feed}": a stream is using it: end that stream first`,
      { path },
    );
  }
  Deno.removeSync(path);
  return true;
}

/**
 * A consumer stream's acknowledgements. The reader's pull notes where each
 * run of records it hands over sits (`runs`); the iterator says how many of
 * the current batch are acknowledged; this turns that into the file's
 * writes: a new base once per run, two stores per record otherwise.
 */
export class ConsumerTrack {
  /**
   * Triples `(index in the batch, a, b)`: that item is at position `(a, b)`,
   * the next ones at `(a, b + 1)`, … up to the next triple. The reader's pull
   * appends them; `refill` clears them.
   */
  readonly runs: number[] = [];
  /** The consumer's file. */
  readonly file: ConsumerFile;
  #r = 0;
  #next = Infinity;
  #acked = 0;
  #stale = true;

  /** @param file the locked consumer file */
  constructor(file: ConsumerFile) {
    this.file = file;
  }

  /** A new batch is about to be pulled (everything handed out so far is acknowledged). */
  refill(): void {
    this.runs.length = 0;
    this.#r = 0;
    this.#acked = 0;
    this.#stale = true;
  }

  /**
   * The first `handed` items of the current batch are acknowledged.
   *
   * @param handed items handed out of the batch
   */
  ack(handed: number): void {
    if (handed === this.#acked) return;
    this.#acked = handed;
    const j = handed - 1;
    const runs = this.runs;
    if (this.#stale || j >= this.#next) {
      if (runs.length === 0) return;
      let r = this.#r;
      while (r + 3 < runs.length && runs[r + 3]! <= j) r += 3;
      this.#r = r;
      this.#next = r + 3 < runs.length ? runs[r + 3]! : Infinity;
      this.#stale = false;
      this.file.commit(runs[r + 1]!, runs[r + 2]!, j - runs[r]! + 1);
    } else this.file.ack(j - runs[this.#r]! + 1);
  }

  /** Release the consumer (unmap, unlock). Idempotent. */
  close(): void {
    this.file.close();
  }
}
