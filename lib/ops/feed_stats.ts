/**
 * The feed statistics report: spec, layout, counts, timestamp bounds, chunks
 * and sizes of one feed, for `Platform.getFeedInfo`, health and the CLI.
 * Reads only: the registry is opened read-only and a ring through a reader.
 *
 * @module
 */
import type { FeedContext } from "../directory/feed.ts";
import { checkChunkHeader, CHUNK_HEADER, chunkGeometry, FLAG } from "../chunks/format.ts";
import { Registry } from "../chunks/registry.ts";
import { Mapping } from "../native/mapping.ts";
import { scanTs } from "../native/scan.ts";
import { RingReader } from "../ring/reader.ts";
import { ringGeometry, ringName } from "../ring/format.ts";
import type { FieldLayout, NormalizedSpec } from "../schema/spec.ts";

/** Per-chunk detail in {@linkcode FeedInfo}. */
export interface ChunkInfo {
  /** Chunk id. */
  id: number;
  /** Committed records. */
  records: number;
  /** Record capacity. */
  capacity: number;
  /** Smallest timestamp, or null when empty. */
  minTs: number | null;
  /** Largest timestamp, or null when empty. */
  maxTs: number | null;
  /** Sealed (full and final). */
  sealed: boolean;
  /** Holds out-of-order timestamps. */
  outOfOrder: boolean;
  /** File size in bytes. */
  bytes: number;
}

/** What `getFeedInfo` reports. */
export interface FeedInfo {
  /** Feed name. */
  name: string;
  /** Normalised spec. */
  spec: NormalizedSpec;
  /** Fields with offsets and sizes (padding included). */
  layout: FieldLayout[];
  /** Record size in bytes. */
  recordSize: number;
  /** Chunk file size actually used for new chunks (rounded from chunk_size_mb). */
  chunkBytes: number;
  /** Records per new chunk. */
  chunkCapacity: number;
  /** Retained chunks. */
  chunkCount: number;
  /** Committed records across retained chunks. */
  recordCount: number;
  /** Smallest retained timestamp, or null. */
  firstTs: number | null;
  /** Largest retained timestamp, or null. */
  lastTs: number | null;
  /** Bytes on disk (allocated size of chunk files and registry). */
  bytesOnDisk: number;
  /** Per-chunk detail. */
  chunks: ChunkInfo[];
  /** Creation time, ISO-8601. */
  created: string;
  /** For `persist: false` feeds: the shared-memory ring. */
  ring?: {
    /** Shared-memory object name (under /dev/shm). */
    shm: string;
    /** Records the ring retains. */
    capacity: number;
    /** Size of the shared-memory object. */
    bytes: number;
    /** Whether a writer has created it. */
    exists: boolean;
  };
}

/**
 * Build the statistics report of one feed.
 *
 * @param ctx the feed, resolved from the catalog
 * @param created the catalog entry's creation time (ISO-8601)
 * @returns the report; `CORRUPT` when a registry or chunk count cannot be trusted
 */
export function feedInfo(ctx: FeedContext, created: string): FeedInfo {
  const geo = chunkGeometry(ctx.spec.chunk_size_mb, ctx.layout.recordSize);
  const info: FeedInfo = {
    name: ctx.name,
    spec: ctx.spec,
    layout: ctx.layout.fields,
    recordSize: ctx.layout.recordSize,
    chunkBytes: geo.bytes,
    chunkCapacity: geo.capacity,
    chunkCount: 0,
    recordCount: 0,
    firstTs: null,
    lastTs: null,
    bytesOnDisk: 0,
    chunks: [],
    created,
  };
  if (ctx.spec.persist) addChunks(ctx, info);
  else addRing(ctx, info);
  return info;
}

function addRing(ctx: FeedContext, info: FeedInfo): void {
  const geo = ringGeometry(ctx.spec.chunk_size_mb, ctx.layout.recordSize);
  const r = new RingReader(ctx, {}, () => {});
  try {
    info.ring = {
      shm: ringName(ctx),
      capacity: geo.capacity,
      bytes: geo.bytes,
      exists: r.capacity > 0,
    };
    for (const rec of r.read()) {
      const ts = rec[ctx.layout.tsName] as number;
      info.recordCount++;
      info.firstTs = info.firstTs === null ? ts : Math.min(info.firstTs, ts);
      info.lastTs = info.lastTs === null ? ts : Math.max(info.lastTs, ts);
    }
  } finally {
    r.close();
  }
}

function addChunks(ctx: FeedContext, info: FeedInfo): void {
  const reg = Registry.open(ctx.paths.registry(ctx.name), false);
  try {
    info.bytesOnDisk += allocatedBytes(reg.path);
    const { first, last } = reg.span();
    for (let id = first; id <= last; id++) {
      const e = reg.entry(id);
      if (e.flags & FLAG.DELETED) continue;
      const path = ctx.paths.chunk(ctx.name, id);
      const c: ChunkInfo = {
        id,
        records: e.committed,
        capacity: e.capacity,
        minTs: null,
        maxTs: null,
        sealed: (e.flags & FLAG.SEALED) !== 0,
        outOfOrder: (e.flags & FLAG.OUT_OF_ORDER) !== 0,
        bytes: allocatedBytes(path),
      };
      if (e.committed > 0) {
        if (c.sealed && reg.entryIntact(id)) {
          c.minTs = e.minTs;
          c.maxTs = e.maxTs;
        } else {
          // Live, or an entry failing its checksum: ask the data itself,
          // after checking the count against what the file holds.
          using m = Mapping.file(path);
          const cap = checkChunkHeader(m, id, ctx.layout.recordSize, ctx.layoutCrc);
          if (e.committed > cap) {
            throw reg.corrupt(`chunk ${id} commits ${e.committed} records but holds ${cap}`);
          }
          const s = scanTs(
            m.addr + BigInt(CHUNK_HEADER),
            e.committed,
            ctx.layout.recordSize,
            ctx.layout.tsOffset,
          );
          c.minTs = s.min;
          c.maxTs = s.max;
        }
        info.firstTs = info.firstTs === null ? c.minTs : Math.min(info.firstTs, c.minTs!);
        info.lastTs = info.lastTs === null ? c.maxTs : Math.max(info.lastTs, c.maxTs!);
      }
      info.chunks.push(c);
      info.chunkCount++;
      info.recordCount += e.committed;
      info.bytesOnDisk += c.bytes;
    }
  } finally {
    reg.close();
  }
}

/**
 * The bytes a file occupies on disk (its allocated blocks, so a sparse or
 * preallocated chunk counts what it really holds), or 0 when it is gone.
 *
 * @param path the file
 * @returns allocated bytes, else its length where blocks are not reported
 */
export function allocatedBytes(path: string): number {
  try {
    const st = Deno.statSync(path);
    return st.blocks !== null ? st.blocks * 512 : st.size;
  } catch {
    return 0;
  }
}
