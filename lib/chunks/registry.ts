/**
 * The per-feed registry: a mapped file holding the chunk ring and the
 * cross-process counters (see `format.ts` for the byte layout).
 *
 * Writers publish with `Atomics.store` (a release store, in fact sequentially
 * consistent); readers observe with `Atomics.load`, which the JIT can never
 * hoist out of a polling loop.
 *
 * @module
 */
import { crc32c } from "../native/checksum.ts";
import { ENOENT } from "../native/errno.ts";
import { Doorbell } from "../native/doorbell.ts";
import { publishFile } from "../native/atomic_file.ts";
import { DeepwaterError } from "../base/errors.ts";
import { Mapping } from "../native/mapping.ts";
import {
  ENTRY_FIELDS,
  FLAG,
  REG_ENTRY,
  REG_HEADER,
  REGISTRY_FIELDS,
  REGISTRY_MAGIC,
  registryBytes,
} from "./format.ts";
import { checkHeader, setU64, u64 } from "../schema/header.ts";
import type { FeedContext } from "../directory/feed.ts";
import { FORMAT_VERSION } from "../base/version.ts";

/** What a registry is created with. */
export interface RegistryInit {
  /** Slots in the chunk ring. */
  capacity: number;
  /** Record size of the feed. */
  recordSize: number;
  /** Offset of the timestamp in a record. */
  tsOffset: number;
  /** CRC32C of the layout descriptor. */
  layoutCrc: number;
  /** The feed's catalog entry (JSON) to keep in the header, for rebuilding a lost catalog. */
  spec?: string;
  /** Entries to fill in before the file becomes visible (repair's rebuild). */
  fill?: (reg: Registry) => void;
  /** Swap in over an existing registry (repair) instead of refusing to. */
  replace?: boolean;
}

/** A snapshot of one registry entry. */
export interface ChunkEntry {
  /** Chunk id. */
  id: number;
  /** Committed records. */
  committed: number;
  /** Record capacity. */
  capacity: number;
  /** Smallest timestamp (valid once sealed). */
  minTs: number;
  /** Largest timestamp (valid once sealed). */
  maxTs: number;
  /** Last timestamp in write order (valid once sealed). */
  lastTs: number;
  /** Creation time, µs since the epoch. */
  created: number;
  /** FLAG bits. */
  flags: number;
  /** Stored CRC32C (valid once sealed). */
  crc: number;
}

/** An open registry mapping. */
export class Registry {
  /** Registry file path. */
  readonly path: string;
  /** Mapping of the whole file. */
  readonly map: Mapping;
  /** DataView over the mapping. */
  readonly dv: DataView;
  /** u32 view over the mapping, for Atomics. */
  readonly u32: Uint32Array;
  /** Slots in the chunk ring. */
  readonly capacity: number;
  /** Record size. */
  readonly recordSize: number;
  /** Timestamp offset. */
  readonly tsOffset: number;
  /** Layout CRC. */
  readonly layoutCrc: number;
  /** Made on first use: only the writer rings, over its read-write mapping. */
  #bell: Doorbell | undefined;

  private constructor(path: string, map: Mapping) {
    this.path = path;
    this.map = map;
    this.dv = new DataView(map.buffer);
    // Whole words only: a file of odd length is caught by the checks below.
    this.u32 = new Uint32Array(map.buffer, 0, map.length >>> 2);
    const dv = this.dv;
    const fail = (why: string) =>
      new DeepwaterError("CORRUPT", `Registry "${path}" is corrupt: ${why}: run deepwater-repair`, {
        path,
      });
    checkHeader(map.buffer, {
      magic: REGISTRY_MAGIC,
      headerSize: REG_HEADER,
      what: "Registry",
      path,
      fix: "run deepwater-repair",
      checksumAt: REGISTRY_FIELDS.headerCrc,
    });
    if (dv.getUint32(REGISTRY_FIELDS.entrySize, true) !== REG_ENTRY) {
      throw fail("unexpected entry size");
    }
    this.capacity = dv.getUint32(REGISTRY_FIELDS.capacity, true);
    this.recordSize = dv.getUint32(REGISTRY_FIELDS.recordSize, true);
    this.tsOffset = dv.getUint32(REGISTRY_FIELDS.tsOffset, true);
    this.layoutCrc = dv.getUint32(REGISTRY_FIELDS.layoutCrc, true);
    if (this.capacity < 2 || map.length < registryBytes(this.capacity)) {
      throw fail(`capacity ${this.capacity} does not fit ${map.length} bytes`);
    }
  }

  /**
   * Create a registry atomically: built complete under an unpredictable
   * temporary name (created exclusively, so a planted link is never written
   * through), flushed, then linked into place. Without `replace` an existing
   * registry is never overwritten (`AlreadyExists` is a `CORRUPT` error, since
   * the caller believed the feed had none); with it, repair swaps a rebuilt
   * registry in with one rename, so a repair killed part-way leaves either the
   * old file or the complete new one, never a partial registry.
   *
   * @param path final path
   * @param init geometry, the stored spec, and optionally entries to fill in
   */
  static create(path: string, init: RegistryInit): void {
    try {
      publishFile(path, (tmp) => {
        using m = Mapping.file(tmp, {
          length: registryBytes(init.capacity),
          write: true,
          create: true,
          exclusive: true,
        });
        const dv = new DataView(m.buffer);
        dv.setUint32(REGISTRY_FIELDS.magic, REGISTRY_MAGIC, true);
        dv.setUint32(REGISTRY_FIELDS.headerSize, REG_HEADER, true);
        dv.setUint32(REGISTRY_FIELDS.entrySize, REG_ENTRY, true);
        dv.setUint32(REGISTRY_FIELDS.capacity, init.capacity, true);
        dv.setUint32(REGISTRY_FIELDS.recordSize, init.recordSize, true);
        dv.setUint32(REGISTRY_FIELDS.tsOffset, init.tsOffset, true);
        dv.setUint32(REGISTRY_FIELDS.layoutCrc, init.layoutCrc, true);
        setU64(dv, REGISTRY_FIELDS.created, Date.now() * 1000);
        setU64(dv, REGISTRY_FIELDS.firstChunk, 1);
        if (init.spec !== undefined) writeSpec(dv, new Uint8Array(m.buffer), init.spec);
        dv.setUint32(REGISTRY_FIELDS.version, FORMAT_VERSION, true);
        dv.setUint32(
          REGISTRY_FIELDS.headerCrc,
          crc32c(new Uint8Array(m.buffer.slice(0, REGISTRY_FIELDS.headerCrc))),
          true,
        );
        if (init.fill) init.fill(new Registry(tmp, m));
        // Synced: a feed (or a repaired registry) must not vanish in a power loss
        // after its creator reported it done; both are rare, so the cost is not.
      }, { sync: true, replace: init.replace ?? false });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new DeepwaterError(
          "CORRUPT",
          `Registry "${path}" already exists although the catalog has no such feed: run deepwater-repair to restore the catalog entry`,
          { path, cause: e },
        );
      }
      throw e;
    }
  }

  /**
   * Open an existing registry.
   *
   * @param path registry path
   * @param write map read-write (writers, cleanup, repair) or read-only (readers)
   * @returns the registry
   */
  static open(path: string, write: boolean): Registry {
    let map: Mapping;
    try {
      map = Mapping.file(path, { write });
    } catch (e) {
      if (isNotFound(e)) {
        throw new DeepwaterError(
          "CORRUPT",
          `Registry "${path}" is missing: run deepwater-repair to rebuild it from the chunk files`,
          { path, cause: e },
        );
      }
      throw unusableFile(e, path, "Registry");
    }
    try {
      return new Registry(path, map);
    } catch (e) {
      map.close();
      throw e;
    }
  }

  /** Oldest retained chunk id (acquire). */
  firstChunk(): number {
    return Atomics.load(this.u32, REGISTRY_FIELDS.firstChunk >> 2);
  }

  /** Newest published chunk id, 0 when none (acquire). */
  lastChunk(): number {
    return Atomics.load(this.u32, REGISTRY_FIELDS.lastChunk >> 2);
  }

  /**
   * The retained chunk ids, validated against the registry's own geometry:
   * `first..last` (empty when `last` is 0). Neither word is checksummed (both
   * are published with single stores), so every loop over chunk ids goes
   * through here: a damaged word is `CORRUPT`, never a loop of 2^32 steps.
   *
   * @returns `{ first, last }` with `first >= 1`
   */
  span(): { first: number; last: number } {
    const first = Math.max(1, this.firstChunk());
    const last = this.lastChunk();
    if (last !== 0 && (first > last || last - first >= this.capacity)) {
      throw this.corrupt(
        `first_chunk ${first} and last_chunk ${last} do not describe at most ${this.capacity} retained chunks`,
      );
    }
    return { first, last };
  }

  /**
   * Whether chunk `id`'s slot describes chunk `id` and, once sealed, passes
   * its checksum: only then may a tool trust its count, flags or bounds.
   */
  entryIntact(id: number): boolean {
    const o = this.slot(id);
    if (this.#storedId(o) !== id) return false;
    const flags = this.dv.getUint32(o + ENTRY_FIELDS.flags, true);
    if (flags & FLAG.SEALED) {
      return this.entryCrc(id) === this.dv.getUint32(o + ENTRY_FIELDS.crc, true);
    }
    // A live entry has no checksum: only OUT_OF_ORDER may be set on it (the
    // writer sets nothing else before sealing; DELETED is only ever stored
    // on a sealed entry with a fresh checksum), so any other bit is damage.
    return (flags & ~FLAG.OUT_OF_ORDER) === 0;
  }
  /** A `CORRUPT` error naming this registry. */
  corrupt(why: string): DeepwaterError {
    return new DeepwaterError(
      "CORRUPT",
      `Registry "${this.path}" is corrupt: ${why}: run deepwater-repair`,
      { path: this.path },
    );
  }

  /** Publish a new oldest chunk id (cleanup, repair). */
  setFirstChunk(id: number): void {
    Atomics.store(this.u32, REGISTRY_FIELDS.firstChunk >> 2, id);
  }

  /** Publish a new newest chunk id (repair adopting chunks past a damaged `last_chunk`). */
  setLastChunk(id: number): void {
    Atomics.store(this.u32, REGISTRY_FIELDS.lastChunk >> 2, id);
  }

  /** Publish a committed count (repair). */
  setCommitted(id: number, count: number): void {
    Atomics.store(this.u32, this.commitIndex(id), count);
  }

  /**
   * Overwrite chunk `id`'s whole entry (repair rebuilding it from the chunk
   * file): every field, then the checksum when sealed, then flags and count.
   */
  rewriteEntry(e: ChunkEntry): void {
    const o = this.slot(e.id);
    const dv = this.dv;
    setU64(dv, o + ENTRY_FIELDS.id, e.id);
    setU64(dv, o + ENTRY_FIELDS.capacity, e.capacity);
    setU64(dv, o + ENTRY_FIELDS.minTs, e.minTs);
    setU64(dv, o + ENTRY_FIELDS.maxTs, e.maxTs);
    setU64(dv, o + ENTRY_FIELDS.lastTs, e.lastTs);
    setU64(dv, o + ENTRY_FIELDS.created, e.created);
    setU64(dv, o + ENTRY_FIELDS.committed, e.committed);
    dv.setUint32(o + ENTRY_FIELDS.flags, e.flags, true);
    dv.setUint32(o + ENTRY_FIELDS.crc, e.flags & FLAG.SEALED ? this.entryCrc(e.id) : 0, true);
    Atomics.store(this.u32, this.flagsIndex(e.id), e.flags);
    Atomics.store(this.u32, this.commitIndex(e.id), e.committed);
  }

  /** Set DELETED on a sealed entry and refresh its checksum, then publish the flags. */
  markDeleted(id: number): void {
    const o = this.slot(id);
    const flags = this.flags(id) | FLAG.DELETED;
    this.dv.setUint32(o + ENTRY_FIELDS.flags, flags, true);
    this.dv.setUint32(o + ENTRY_FIELDS.crc, this.entryCrc(id), true);
    Atomics.store(this.u32, this.flagsIndex(id), flags);
  }

  /** Move `first_chunk` past a contiguous prefix of deleted chunks (never past the live one). */
  advanceFirst(): void {
    let { first } = this.span();
    const last = this.lastChunk();
    while (first < last && this.flags(first) & FLAG.DELETED && this.entryIntact(first)) first++;
    if (first !== this.firstChunk()) this.setFirstChunk(first);
  }

  /** The pid recorded by the last writer that opened the feed (0: none or closed cleanly). */
  writerPid(): number {
    return u64(this.dv, REGISTRY_FIELDS.writerPid);
  }

  /** Forget the recorded writer (it closed, or repair found it dead). */
  clearWriter(): void {
    setU64(this.dv, REGISTRY_FIELDS.writerPid, 0);
  }

  /**
   * The doorbell readers wait on: the writer commits through it (see
   * `Doorbell.commit`, with {@linkcode Registry.commitIndex}) and rings it.
   */
  get doorbell(): Doorbell {
    return this.#bell ??= new Doorbell(this.map, REGISTRY_FIELDS);
  }

  /** Whether any reader waits on the notify word. */
  hasWaiters(): boolean {
    return this.doorbell.hasWaiters();
  }

  /** Ring the doorbell readers wait on (the writer, after a commit; see `Doorbell`). */
  wake(): void {
    this.doorbell.ring();
  }

  /** Committed playback markers (acquire). */
  markerCount(): number {
    return Atomics.load(this.u32, REGISTRY_FIELDS.markerCount >> 2);
  }

  /** Publish a new playback-marker count (the writer, after filling the entry). */
  setMarkerCount(n: number): void {
    Atomics.store(this.u32, REGISTRY_FIELDS.markerCount >> 2, n);
  }

  /**
   * The feed's catalog entry as stored at creation (JSON), or undefined when
   * absent or failing its checksum. Lets repair rebuild a lost catalog even
   * when `spec.json` is gone too.
   */
  storedSpec(): string | undefined {
    const len = this.dv.getUint32(REGISTRY_FIELDS.specLength, true);
    if (len === 0 || len > SPEC_ROOM) return undefined;
    const bytes = new Uint8Array(
      this.map.buffer.slice(REGISTRY_FIELDS.spec, REGISTRY_FIELDS.spec + len),
    );
    if (crc32c(bytes) !== this.dv.getUint32(REGISTRY_FIELDS.specCrc, true)) return undefined;
    return new TextDecoder().decode(bytes);
  }

  /**
   * The stored spec of a registry file whose header may be damaged: the spec
   * area carries its own checksum, so it is read with plain I/O (no mapping,
   * no header check) and returned only when that checksum holds.
   *
   * @param path registry file (a regular file; links are not followed)
   * @returns the JSON, or undefined
   */
  static readStoredSpec(path: string): string | undefined {
    try {
      if (!Deno.lstatSync(path).isFile) return undefined;
      using f = Deno.openSync(path, { read: true });
      const head = new Uint8Array(REGISTRY_FIELDS.notifySeq);
      let off = 0;
      while (off < head.length) {
        const n = f.readSync(head.subarray(off));
        if (n === null || n === 0) break;
        off += n;
      }
      if (off < head.length) return undefined;
      const dv = new DataView(head.buffer);
      const len = dv.getUint32(REGISTRY_FIELDS.specLength, true);
      if (len === 0 || len > SPEC_ROOM) return undefined;
      const bytes = head.slice(REGISTRY_FIELDS.spec, REGISTRY_FIELDS.spec + len);
      if (crc32c(bytes) !== dv.getUint32(REGISTRY_FIELDS.specCrc, true)) return undefined;
      return new TextDecoder().decode(bytes);
    } catch {
      return undefined;
    }
  }

  /**
   * Store the feed's catalog entry (JSON) in the header's spec area; a text
   * too long for it is not stored (the catalog and `spec.json` still hold it).
   * The length is cleared first and stored last, so a torn update reads as
   * absent, never as a wrong spec.
   *
   * @returns whether it fit
   */
  storeSpec(json: string): boolean {
    return writeSpec(this.dv, new Uint8Array(this.map.buffer), json);
  }

  /** Byte offset of chunk `id`'s slot. */
  slot(id: number): number {
    return REG_HEADER + ((id - 1) % this.capacity) * REG_ENTRY;
  }

  /** The chunk id stored in slot `k` (0 .. capacity-1), whatever it is. */
  slotId(k: number): number {
    return this.#storedId(REG_HEADER + k * REG_ENTRY);
  }

  /**
   * The chunk id stored in the entry at byte `o`, or 0 when it cannot be one:
   * ids stay below 2^32 (the writer refuses more), so a damaged high half is
   * never read as a (possibly inexact) huge id.
   */
  #storedId(o: number): number {
    const dv = this.dv;
    return dv.getUint32(o + ENTRY_FIELDS.id + 4, true) === 0
      ? dv.getUint32(o + ENTRY_FIELDS.id, true)
      : 0;
  }

  /** u32 index of chunk `id`'s commit word (low half). */
  commitIndex(id: number): number {
    return (this.slot(id) + ENTRY_FIELDS.committed) >> 2;
  }

  /** u32 index of chunk `id`'s flags word. */
  flagsIndex(id: number): number {
    return (this.slot(id) + ENTRY_FIELDS.flags) >> 2;
  }

  /** Committed record count of chunk `id` (acquire). */
  committed(id: number): number {
    return Atomics.load(this.u32, this.commitIndex(id));
  }

  /** Flags of chunk `id` (acquire). */
  flags(id: number): number {
    return Atomics.load(this.u32, this.flagsIndex(id));
  }

  /** Snapshot of chunk `id`'s entry (flags and count loaded first, acquire). */
  entry(id: number): ChunkEntry {
    const flags = this.flags(id);
    const committed = this.committed(id);
    const o = this.slot(id);
    const dv = this.dv;
    return {
      id: this.#storedId(o),
      committed,
      capacity: u64(dv, o + ENTRY_FIELDS.capacity),
      minTs: u64(dv, o + ENTRY_FIELDS.minTs),
      maxTs: u64(dv, o + ENTRY_FIELDS.maxTs),
      lastTs: u64(dv, o + ENTRY_FIELDS.lastTs),
      created: u64(dv, o + ENTRY_FIELDS.created),
      flags,
      crc: dv.getUint32(o + ENTRY_FIELDS.crc, true),
    };
  }

  /** CRC32C of an entry's first 60 bytes as currently stored. */
  entryCrc(id: number): number {
    const o = this.slot(id);
    return crc32c(new Uint8Array(this.map.buffer.slice(o, o + ENTRY_FIELDS.crc)));
  }

  /**
   * Fill chunk `id`'s slot (count 0) and then publish it as the newest chunk.
   * Everything a reader needs is written before the release store.
   */
  publishChunk(id: number, capacity: number): void {
    const o = this.slot(id);
    const dv = this.dv;
    new Uint8Array(this.map.buffer, o, REG_ENTRY).fill(0);
    setU64(dv, o + ENTRY_FIELDS.id, id);
    setU64(dv, o + ENTRY_FIELDS.capacity, capacity);
    setU64(dv, o + ENTRY_FIELDS.created, Date.now() * 1000);
    Atomics.store(this.u32, REGISTRY_FIELDS.lastChunk >> 2, id);
  }

  /** Seal chunk `id`: final timestamps, SEALED flag, checksum. */
  seal(id: number, minTs: number, maxTs: number, lastTs: number, extraFlags: number): void {
    const o = this.slot(id);
    const dv = this.dv;
    setU64(dv, o + ENTRY_FIELDS.minTs, minTs);
    setU64(dv, o + ENTRY_FIELDS.maxTs, maxTs);
    setU64(dv, o + ENTRY_FIELDS.lastTs, lastTs);
    const flags = this.flags(id) | extraFlags | FLAG.SEALED;
    dv.setUint32(o + ENTRY_FIELDS.flags, flags, true);
    dv.setUint32(o + ENTRY_FIELDS.crc, this.entryCrc(id), true);
    Atomics.store(this.u32, this.flagsIndex(id), flags);
  }

  /** Set flag bits on chunk `id` (release), e.g. OUT_OF_ORDER before committing. */
  addFlags(id: number, bits: number): void {
    Atomics.or(this.u32, this.flagsIndex(id), bits);
  }

  /** Record the writer's pid and start time (informational). */
  setWriter(pid: number): void {
    setU64(this.dv, REGISTRY_FIELDS.writerPid, pid);
    setU64(this.dv, REGISTRY_FIELDS.writerStart, Date.now() * 1000);
  }

  /** Unmap. Idempotent. */
  close(): void {
    this.map.close();
  }
}

/** Room for the stored spec in the registry header. */
const SPEC_ROOM = REGISTRY_FIELDS.notifySeq - REGISTRY_FIELDS.spec;

function writeSpec(dv: DataView, u8: Uint8Array, json: string): boolean {
  const bytes = new TextEncoder().encode(json);
  dv.setUint32(REGISTRY_FIELDS.specLength, 0, true);
  if (bytes.length > SPEC_ROOM) return false;
  u8.set(bytes, REGISTRY_FIELDS.spec);
  u8.fill(0, REGISTRY_FIELDS.spec + bytes.length, REGISTRY_FIELDS.spec + SPEC_ROOM);
  dv.setUint32(REGISTRY_FIELDS.specCrc, crc32c(bytes as Uint8Array<ArrayBuffer>), true);
  dv.setUint32(REGISTRY_FIELDS.specLength, bytes.length, true);
  return true;
}

/**
 * Turn a failure to map a metadata file into `CORRUPT` when the file itself
 * is the problem (a link, a directory, an empty or special file); other
 * failures (permissions, I/O) pass through unchanged.
 */
function unusableFile(e: unknown, path: string, what: string): unknown {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(path);
  } catch {
    return e;
  }
  const why = st.isSymlink
    ? "is a symbolic link; Deepwater does not follow links inside its data directory"
    : !st.isFile
    ? "is not a regular file"
    : st.size === 0
    ? "is empty"
    : undefined;
  if (why === undefined) return e;
  return new DeepwaterError("CORRUPT", `${what} "${path}" ${why}: run deepwater-repair`, {
    path,
    cause: e,
  });
}

/** Whether an error is libdeepwater's "no such file". */
export function isNotFound(e: unknown): boolean {
  return e instanceof DeepwaterError && e.errno === ENOENT;
}

/** Refuse a registry whose geometry disagrees with the catalog's layout. */
export function checkRegistryMatches(reg: Registry, ctx: FeedContext): void {
  if (
    reg.recordSize !== ctx.layout.recordSize || reg.tsOffset !== ctx.layout.tsOffset ||
    reg.layoutCrc !== ctx.layoutCrc
  ) {
    throw new DeepwaterError(
      "SCHEMA_DRIFT",
      `Registry "${reg.path}" was written with another layout (record size ${reg.recordSize}, catalog says ${ctx.layout.recordSize}): run deepwater-repair --feed ${ctx.name}`,
      { path: reg.path },
    );
  }
}
