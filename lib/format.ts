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
import { FORMAT_VERSION } from "./version.ts";

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

/** Byte offsets in the registry header. */
export const RH = {
  magic: 0,
  version: 4,
  headerSize: 8,
  entrySize: 12,
  capacity: 16,
  recordSize: 20,
  tsOffset: 24,
  layoutCrc: 28,
  created: 32,
  headerCrc: 40,
  firstChunk: 64,
  lastChunk: 128,
  writerPid: 192,
  writerStart: 200,
  markerCount: 256,
  notifySeq: 4096,
  waiters: 4160,
} as const;

/** Byte offsets within a registry entry. */
export const RE = {
  id: 0,
  committed: 8,
  capacity: 16,
  minTs: 24,
  maxTs: 32,
  created: 40,
  lastTs: 48,
  flags: 56,
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
/** Byte offsets in the chunk header. */
export const CH = {
  magic: 0,
  version: 4,
  headerSize: 8,
  recordSize: 12,
  id: 16,
  capacity: 24,
  layoutCrc: 32,
  sealedCount: 40,
} as const;

/** Page size files are rounded to. */
export const PAGE = 4096;
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

/** Byte offset of the registry slot that holds chunk `id`. */
export function entryOffset(id: number, capacity: number): number {
  return REG_HEADER + ((id - 1) % capacity) * REG_ENTRY;
}

/** Chunk file name for an id (zero-padded so names sort). */
export function chunkFileName(id: number): string {
  return `chunk-${String(id).padStart(12, "0")}.dwk`;
}

/** Parse a chunk file name back to its id, or undefined. */
export function chunkIdOf(name: string): number | undefined {
  const m = /^chunk-(\d{12})\.dwk$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Write a chunk header into a fresh mapping (version last). */
export function writeChunkHeader(
  dv: DataView,
  id: number,
  recordSize: number,
  capacity: number,
  layoutCrc: number,
): void {
  dv.setUint32(CH.magic, CHUNK_MAGIC, true);
  dv.setUint32(CH.headerSize, CHUNK_HEADER, true);
  dv.setUint32(CH.recordSize, recordSize, true);
  dv.setBigUint64(CH.id, BigInt(id), true);
  dv.setBigUint64(CH.capacity, BigInt(capacity), true);
  dv.setUint32(CH.layoutCrc, layoutCrc, true);
  dv.setUint32(CH.version, FORMAT_VERSION, true);
}

/** Read a u64 that the format guarantees fits a JS number. */
export function u64(dv: DataView, at: number): number {
  return dv.getUint32(at + 4, true) * 4294967296 + dv.getUint32(at, true);
}

/** Write a u64 from a JS number (0 .. 2^53-1). */
export function setU64(dv: DataView, at: number, v: number): void {
  const lo = v >>> 0;
  dv.setUint32(at, lo, true);
  dv.setUint32(at + 4, (v - lo) / 4294967296, true);
}
