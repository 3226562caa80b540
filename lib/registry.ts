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
import { crc32c, ENOENT } from "./ffi.ts";
import { DeepwaterError } from "./errors.ts";
import { Mapping } from "./mapping.ts";
import {
  FLAG,
  RE,
  REG_ENTRY,
  REG_HEADER,
  REGISTRY_MAGIC,
  registryBytes,
  RH,
  setU64,
  u64,
} from "./format.ts";
import { FORMAT_VERSION } from "./version.ts";

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

  private constructor(path: string, map: Mapping) {
    this.path = path;
    this.map = map;
    this.dv = new DataView(map.buffer);
    this.u32 = new Uint32Array(map.buffer);
    const dv = this.dv;
    const fail = (why: string) =>
      new DeepwaterError("CORRUPT", `Registry "${path}" is corrupt: ${why}: run deepwater-repair`, {
        path,
      });
    if (map.length < REG_HEADER) throw fail(`${map.length} bytes is shorter than its header`);
    if (dv.getUint32(RH.magic, true) !== REGISTRY_MAGIC) throw fail("bad magic number");
    const version = dv.getUint32(RH.version, true);
    if (version !== FORMAT_VERSION) {
      throw new DeepwaterError(
        "VERSION_MISMATCH",
        `Registry "${path}" has format version ${version}; this Deepwater reads format ${FORMAT_VERSION}: use the matching Deepwater version`,
        { path },
      );
    }
    const stored = dv.getUint32(RH.headerCrc, true);
    if (crc32c(new Uint8Array(map.buffer.slice(0, RH.headerCrc))) !== stored) {
      throw fail("header checksum mismatch");
    }
    if (
      dv.getUint32(RH.headerSize, true) !== REG_HEADER ||
      dv.getUint32(RH.entrySize, true) !== REG_ENTRY
    ) {
      throw fail("unexpected header or entry size");
    }
    this.capacity = dv.getUint32(RH.capacity, true);
    this.recordSize = dv.getUint32(RH.recordSize, true);
    this.tsOffset = dv.getUint32(RH.tsOffset, true);
    this.layoutCrc = dv.getUint32(RH.layoutCrc, true);
    if (this.capacity < 2 || map.length < registryBytes(this.capacity)) {
      throw fail(`capacity ${this.capacity} does not fit ${map.length} bytes`);
    }
  }

  /**
   * Create a registry atomically (built under a temporary name, then renamed).
   * Callers hold the catalog lock, so creation never races.
   *
   * @param path final path
   * @param init geometry
   */
  static create(path: string, init: RegistryInit): void {
    const tmp = `${path}.tmp-${Deno.pid}`;
    const m = Mapping.file(tmp, {
      length: registryBytes(init.capacity),
      write: true,
      create: true,
    });
    try {
      const dv = new DataView(m.buffer);
      dv.setUint32(RH.magic, REGISTRY_MAGIC, true);
      dv.setUint32(RH.headerSize, REG_HEADER, true);
      dv.setUint32(RH.entrySize, REG_ENTRY, true);
      dv.setUint32(RH.capacity, init.capacity, true);
      dv.setUint32(RH.recordSize, init.recordSize, true);
      dv.setUint32(RH.tsOffset, init.tsOffset, true);
      dv.setUint32(RH.layoutCrc, init.layoutCrc, true);
      setU64(dv, RH.created, Date.now() * 1000);
      setU64(dv, RH.firstChunk, 1);
      dv.setUint32(RH.version, FORMAT_VERSION, true);
      dv.setUint32(RH.headerCrc, crc32c(new Uint8Array(m.buffer.slice(0, RH.headerCrc))), true);
      m.msync(0, REG_HEADER, true);
    } finally {
      m.close();
    }
    Deno.renameSync(tmp, path);
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
      throw e;
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
    return Atomics.load(this.u32, RH.firstChunk >> 2);
  }

  /** Newest published chunk id, 0 when none (acquire). */
  lastChunk(): number {
    return Atomics.load(this.u32, RH.lastChunk >> 2);
  }

  /** Publish a new oldest chunk id (cleanup). */
  setFirstChunk(id: number): void {
    Atomics.store(this.u32, RH.firstChunk >> 2, id);
  }

  /** Byte offset of chunk `id`'s slot. */
  slot(id: number): number {
    return REG_HEADER + ((id - 1) % this.capacity) * REG_ENTRY;
  }

  /** u32 index of chunk `id`'s commit word (low half). */
  commitIndex(id: number): number {
    return (this.slot(id) + RE.committed) >> 2;
  }

  /** u32 index of chunk `id`'s flags word. */
  flagsIndex(id: number): number {
    return (this.slot(id) + RE.flags) >> 2;
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
      id: u64(dv, o + RE.id),
      committed,
      capacity: u64(dv, o + RE.capacity),
      minTs: u64(dv, o + RE.minTs),
      maxTs: u64(dv, o + RE.maxTs),
      lastTs: u64(dv, o + RE.lastTs),
      created: u64(dv, o + RE.created),
      flags,
      crc: dv.getUint32(o + RE.crc, true),
    };
  }

  /** CRC32C of an entry's first 60 bytes as currently stored. */
  entryCrc(id: number): number {
    const o = this.slot(id);
    return crc32c(new Uint8Array(this.map.buffer.slice(o, o + RE.crc)));
  }

  /**
   * Fill chunk `id`'s slot (count 0) and then publish it as the newest chunk.
   * Everything a reader needs is written before the release store.
   */
  publishChunk(id: number, capacity: number): void {
    const o = this.slot(id);
    const dv = this.dv;
    new Uint8Array(this.map.buffer, o, REG_ENTRY).fill(0);
    setU64(dv, o + RE.id, id);
    setU64(dv, o + RE.capacity, capacity);
    setU64(dv, o + RE.created, Date.now() * 1000);
    Atomics.store(this.u32, RH.lastChunk >> 2, id);
  }

  /** Seal chunk `id`: final timestamps, SEALED flag, checksum. */
  seal(id: number, minTs: number, maxTs: number, lastTs: number, extraFlags: number): void {
    const o = this.slot(id);
    const dv = this.dv;
    setU64(dv, o + RE.minTs, minTs);
    setU64(dv, o + RE.maxTs, maxTs);
    setU64(dv, o + RE.lastTs, lastTs);
    const flags = this.flags(id) | extraFlags | FLAG.SEALED;
    dv.setUint32(o + RE.flags, flags, true);
    dv.setUint32(o + RE.crc, this.entryCrc(id), true);
    Atomics.store(this.u32, this.flagsIndex(id), flags);
  }

  /** Set flag bits on chunk `id` (release), e.g. OUT_OF_ORDER before committing. */
  addFlags(id: number, bits: number): void {
    Atomics.or(this.u32, this.flagsIndex(id), bits);
  }

  /** Record the writer's pid and start time (informational). */
  setWriter(pid: number): void {
    setU64(this.dv, RH.writerPid, pid);
    setU64(this.dv, RH.writerStart, Date.now() * 1000);
  }

  /** Unmap. Idempotent. */
  close(): void {
    this.map.close();
  }
}

/** Whether an error is libdeepwater's "no such file". */
export function isNotFound(e: unknown): boolean {
  return e instanceof DeepwaterError && e.errno === ENOENT;
}
