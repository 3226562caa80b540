/**
 * Binary formats of the per-feed registry and chunk files (format version 1).
 *
 * All integers are little-endian; sizes and counts are 64-bit. Every file
 * starts with: u32 magic, u32 format version, u32 header size. The creator
 * writes the version last (and files are built under a temporary name, then
 * renamed), so a half-initialised file is recognisable and never visible.
 *
 * Registry (`registry.dwr`):
 * ```
 * 0      u32 magic "DWRG"   4 u32 format   8 u32 header size (8192)
 * 12     u32 entry size (64)   16 u32 capacity (entries)   20 u32 record size
 * 24     u32 ts offset   28 u32 layout CRC32C   32 u64 created (µs)
 * 40     u32 header CRC32C (bytes 0..40)
 * 64     u64 first_chunk   oldest retained chunk id (cleanup advances it)
 * 128    u64 last_chunk    newest published chunk id; 0 = none (writer publishes)
 * 192    u64 writer pid, 200 u64 writer start (µs): informational
 * 256    u64 marker count (playback markers committed)
 * 1024   u32 stored spec length, 1028 u32 its CRC32C, 1032 the feed's catalog
 *        entry as JSON (up to 3064 bytes; length 0 = none). Added in 0.2.0
 *        without a format change: older registries hold zeros here (none).
 * 4096   u32 notify sequence (futex word), 4160 u32 waiting readers
 * 8192   entries: chunk id N lives in slot (N - 1) % capacity
 * ```
 * Entry (64 bytes, one cache line):
 * ```
 * 0 u64 chunk id   8 u64 committed records (the commit word)   16 u64 capacity
 * 24 u64 min ts   32 u64 max ts   40 u64 created (µs)   48 u64 last ts
 * 56 u32 flags (SEALED, OUT_OF_ORDER, DELETED)   60 u32 CRC32C of bytes 0..60 once sealed
 * ```
 * The commit word's high half is always zero (a chunk holds < 2^32 records),
 * so the writer publishes with a 32-bit `Atomics.store` on its low half.
 *
 * Chunk (`chunk-<id>.dwk`): 64-byte header (magic "DWCK", format, header
 * size, record size, u64 chunk id, u64 capacity, u32 layout CRC32C, and at
 * byte 40 the u64 final record count written when the chunk is sealed, so a
 * lost registry can be rebuilt from the chunk files), then records back to
 * back.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { FORMAT_VERSION } from "../base/version.ts";
import { checkHeader, PAGE, setU64, u64 } from "../schema/header.ts";

/** Registry magic: bytes "GRWD" on disk, 0x44575247 as a little-endian u32. */
export const REGISTRY_MAGIC = 0x44575247;
/** Chunk magic: 0x4457434b ("KCWD" on disk). */
export const CHUNK_MAGIC = 0x4457434b;
/** Marker-file magic: 0x4457494d. */
export const MARKER_MAGIC = 0x4457494d;

/** Registry header size in bytes (header page + notify page). */
export const REG_HEADER = 8192;
/** Registry entry size. */
export const REG_ENTRY = 64;
/** Default number of registry slots (retained chunks). */
export const REG_CAPACITY = 16384;

/**
 * The registry header, field by field: byte offset of each field, with its
 * width, who writes it and in what order. "Creator" is `Registry.create`
 * (new feeds, repair's rebuild): it fills a file under a temporary name,
 * stores `version` after every other header field, and renames it into
 * place, so readers never see a half-made header.
 */
export const REGISTRY_FIELDS = {
  /** u32 "DWRG". Creator, once. */
  magic: 0,
  /** u32 format version. Creator, once, after the other header fields. */
  version: 4,
  /** u32 header size (8192). Creator, once. */
  headerSize: 8,
  /** u32 entry size (64). Creator, once. */
  entrySize: 12,
  /** u32 chunk slots in the ring of entries. Creator, once. */
  capacity: 16,
  /** u32 record size of the feed. Creator, once. */
  recordSize: 20,
  /** u32 timestamp offset within a record. Creator, once. */
  tsOffset: 24,
  /** u32 CRC32C of the layout descriptor. Creator, once. */
  layoutCrc: 28,
  /** u64 creation time, µs. Creator, once. */
  created: 32,
  /** u32 CRC32C of bytes 0..40. Creator, once, last. */
  headerCrc: 40,
  /**
   * u64 oldest retained chunk id (no checksum: cross-checked against the
   * chunk files). Cleanup advances it with a release store after marking the
   * chunks it passes deleted; repair restores it.
   */
  firstChunk: 64,
  /**
   * u64 newest published chunk id, 0 = none (no checksum: cross-checked).
   * The writer stores it (release) after the chunk's entry is complete and
   * its predecessor sealed; repair restores it.
   */
  lastChunk: 128,
  /** u64 pid of the open writer (0 after a clean close). Writer; informational. */
  writerPid: 192,
  /** u64 when that writer opened, µs. Writer; informational. */
  writerStart: 200,
  /** u64 committed playback markers. Writer, release store after the marker entry is filled. */
  markerCount: 256,
  /** u32 length of the stored spec (0 = none). Creator/createFeed: cleared first, stored last. */
  specLength: 1024,
  /** u32 CRC32C of the stored spec. Stored before `specLength`. */
  specCrc: 1028,
  /** The feed's catalog entry as JSON, up to 3064 bytes. Stored before `specLength`. */
  spec: 1032,
  /**
   * u32 futex word on its own page (see `native/doorbell.ts`). The writer increments it after
   * commits readers wait for; a reader whose wait is aborted increments it to end its own sleep.
   */
  notifySeq: 4096,
  /** u32 readers blocked on `notifySeq`. Readers add and subtract; the writer loads it after each commit. */
  waiters: 4160,
} as const;

/**
 * A registry entry (64 bytes, one cache line; chunk id N lives in slot
 * (N - 1) % capacity). The writer fills it with zeros, the id, capacity and
 * creation time before it publishes the chunk; it seals it by storing the
 * timestamps, then the flags, then the checksum over bytes 0..60.
 */
export const ENTRY_FIELDS = {
  /** u64 chunk id (an entry is trusted only for the id it names). Writer, at publication. */
  id: 0,
  /**
   * u64 committed records: the commit word. The writer stores its low half
   * (release) after each record's bytes; the high half is always zero.
   */
  committed: 8,
  /** u64 record capacity. Writer, at publication. */
  capacity: 16,
  /** u64 smallest timestamp. Writer, at sealing. */
  minTs: 24,
  /** u64 largest timestamp. Writer, at sealing. */
  maxTs: 32,
  /** u64 creation time, µs. Writer, at publication. */
  created: 40,
  /** u64 last timestamp in write order. Writer, at sealing. */
  lastTs: 48,
  /**
   * u32 flag bits (`FLAG`). OUT_OF_ORDER: the writer, before the commit of
   * the first record out of order; SEALED: at sealing, after the timestamps;
   * DELETED: cleanup or repair, with a fresh checksum.
   */
  flags: 56,
  /** u32 CRC32C of bytes 0..60, valid once sealed. Stored with every sealed change. */
  crc: 60,
} as const;

/** Entry flag bits. */
export const FLAG = {
  SEALED: 1,
  OUT_OF_ORDER: 2,
  DELETED: 4,
} as const;

/** Chunk header size; records start here. */
export const CHUNK_HEADER = 64;
/**
 * The chunk header (64 bytes; records follow back to back). The writer
 * writes it into the file it created before publishing the chunk, version
 * last; repair rewrites a damaged one from the registry entry.
 */
export const CHUNK_FIELDS = {
  /** u32 "DWCK". */
  magic: 0,
  /** u32 format version, stored after the other fields. */
  version: 4,
  /** u32 header size (64). */
  headerSize: 8,
  /** u32 record size. */
  recordSize: 12,
  /** u64 this chunk's id (must equal the id in its file name). */
  id: 16,
  /** u64 record capacity (the file holds at least header + capacity records). */
  capacity: 24,
  /** u32 CRC32C of the feed's layout descriptor. */
  layoutCrc: 32,
  /** u64 final record count, written by the writer when it seals the chunk (0 while live). */
  sealedCount: 40,
  /**
   * u32 the count being published (since 0.2.0; zero in chunks written
   * before): the writer stores it with a plain store right before each commit
   * word store, so a reader that loads it after the word finds it at least as
   * high; a commit word above it is damage, never unwritten records.
   */
  publishing: 48,
  /**
   * u32 the count last published (since 0.2.0; zero before): a plain store
   * right after each commit word store. Repair restores a commit word damaged
   * lower from it, and rebuilds a lost registry's count from it. A writer
   * killed between the two stores leaves `publishing` above it: those records
   * were never published and stay hidden.
   */
  liveCount: 52,
} as const;

/** Largest number of records in one chunk (the commit word's low half). */
export const MAX_CHUNK_RECORDS = 0xffffffff;

/** Sizes derived from `chunk_size_mb` and the record size. */
export interface ChunkGeometry {
  /** File size in bytes (whole pages). */
  bytes: number;
  /** Records a chunk holds. */
  capacity: number;
}

/**
 * Round a requested chunk size to what the format needs: whole 4 KiB pages,
 * room for the header and at least one record.
 *
 * @param chunkSizeMb requested size in MiB (may be fractional)
 * @param recordSize bytes per record
 * @returns the file size and record capacity
 */
export function chunkGeometry(chunkSizeMb: number, recordSize: number): ChunkGeometry {
  const want = Math.max(Math.round(chunkSizeMb * 1024 * 1024), CHUNK_HEADER + recordSize);
  const bytes = Math.ceil(want / PAGE) * PAGE;
  const capacity = Math.min(Math.floor((bytes - CHUNK_HEADER) / recordSize), MAX_CHUNK_RECORDS);
  return { bytes, capacity };
}

/** Registry file size for a capacity. */
export function registryBytes(capacity: number): number {
  return REG_HEADER + capacity * REG_ENTRY;
}

/** Write a chunk header into a fresh mapping (version last). */
export function writeChunkHeader(
  dv: DataView,
  id: number,
  recordSize: number,
  capacity: number,
  layoutCrc: number,
): void {
  dv.setUint32(CHUNK_FIELDS.magic, CHUNK_MAGIC, true);
  dv.setUint32(CHUNK_FIELDS.headerSize, CHUNK_HEADER, true);
  dv.setUint32(CHUNK_FIELDS.recordSize, recordSize, true);
  dv.setBigUint64(CHUNK_FIELDS.id, BigInt(id), true);
  dv.setBigUint64(CHUNK_FIELDS.capacity, BigInt(capacity), true);
  dv.setUint32(CHUNK_FIELDS.layoutCrc, layoutCrc, true);
  dv.setUint32(CHUNK_FIELDS.version, FORMAT_VERSION, true);
}

/** Store a chunk's final record count in its header when it is sealed (repair reads it back). */
export function sealChunkHeader(dv: DataView, count: number): void {
  setU64(dv, CHUNK_FIELDS.sealedCount, count);
}

/** A chunk header's fields, as {@linkcode readChunkHeader} finds them. */
interface ChunkHeaderInfo {
  /** Chunk id stored in the header. */
  id: number;
  /** Record size stored in the header. */
  recordSize: number;
  /** Record capacity stored in the header. */
  capacity: number;
  /** Layout CRC32C stored in the header. */
  layoutCrc: number;
  /** Final count written at sealing (0 while live). */
  sealedCount: number;
}

/** What a chunk's header must agree with. */
export interface ChunkExpectation {
  /** The chunk id its file name carries. */
  id: number;
  /** The feed's record size. */
  recordSize: number;
  /** The feed's layout CRC32C. */
  layoutCrc: number;
  /** Most bytes the chunk may span (its mapping's length, or the largest mapping). */
  bytes: number;
}

/**
 * The one rule for a chunk header's own fields (after the common magic,
 * version and header-size check): it names the right chunk and the feed's
 * layout, and its capacity and sealed count fit. Readers, writers, cleanup
 * and repair all judge headers by it.
 *
 * @param h the header's fields
 * @param want what the feed and the file name say
 * @returns why the header is wrong, or undefined when it is right
 */
export function chunkHeaderProblem(h: ChunkHeaderInfo, want: ChunkExpectation): string | undefined {
  if (h.id !== want.id) return `its header says chunk ${h.id}, its name chunk ${want.id}`;
  if (h.recordSize !== want.recordSize) {
    return `record size ${h.recordSize}, the feed's is ${want.recordSize}`;
  }
  if (h.layoutCrc !== want.layoutCrc) return "its layout checksum is not the feed's";
  if (
    h.capacity < 1 || h.capacity > MAX_CHUNK_RECORDS ||
    CHUNK_HEADER + h.capacity * want.recordSize > want.bytes
  ) {
    return `capacity ${h.capacity} does not fit its ${want.bytes} bytes`;
  }
  if (h.sealedCount > h.capacity) {
    return `sealed count ${h.sealedCount} exceeds capacity ${h.capacity}`;
  }
  return undefined;
}

/**
 * Check a mapped chunk against what its feed and name say it must be, and
 * return the record capacity the mapping really holds. Every reader and
 * writer maps chunks through this, so no count or offset from another file
 * can reach past the mapping.
 *
 * @param map the chunk's mapping
 * @param id the chunk id its file name carries
 * @param recordSize the feed's record size
 * @param layoutCrc the feed's layout CRC32C
 * @returns the capacity; throws `CORRUPT` naming the file and the field
 */
export function checkChunkHeader(
  map: { buffer: ArrayBuffer; length: number; path: string },
  id: number,
  recordSize: number,
  layoutCrc: number,
): number {
  const h = readChunkHeader(map.buffer, map.path);
  const why = chunkHeaderProblem(h, { id, recordSize, layoutCrc, bytes: map.length });
  if (why) {
    throw new DeepwaterError(
      "CORRUPT",
      `Chunk "${map.path}" is corrupt: ${why}: run deepwater-repair`,
      {
        path: map.path,
      },
    );
  }
  return h.capacity;
}

/**
 * Read a chunk header after the common header check.
 *
 * @param bytes the chunk's bytes (at least its header)
 * @param path file path, for messages
 * @returns the fields; throws `CORRUPT` or `VERSION_MISMATCH`
 */
function readChunkHeader(bytes: ArrayBuffer | Uint8Array, path: string): ChunkHeaderInfo {
  const dv = checkHeader(bytes, {
    magic: CHUNK_MAGIC,
    headerSize: CHUNK_HEADER,
    what: "Chunk",
    path,
    fix: "run deepwater-repair",
  });
  return {
    id: u64(dv, CHUNK_FIELDS.id),
    recordSize: dv.getUint32(CHUNK_FIELDS.recordSize, true),
    capacity: u64(dv, CHUNK_FIELDS.capacity),
    layoutCrc: dv.getUint32(CHUNK_FIELDS.layoutCrc, true),
    sealedCount: u64(dv, CHUNK_FIELDS.sealedCount),
  };
}
