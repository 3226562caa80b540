/**
 * Retention cleanup (what `deepwater-cleanup` and the `Deno.cron` entry run).
 *
 * For every persisted feed with `retention_hours > 0`, a chunk is deleted
 * only when it is sealed (never the live chunk) and its newest record is
 * older than the retention. Each deletion is published in the registry
 * before the file is unlinked (the entry's DELETED flag, re-checksummed,
 * then `first_chunk` advanced over a contiguous prefix of deleted chunks),
 * so readers and range queries keep working on what remains: a reader that
 * mapped the chunk earlier keeps its mapping, one that had not skips it.
 * Cleanup of a feed is serialised by `<feed>/maintenance.lock`.
 *
 * @module
 */
import { Catalog } from "../catalog.ts";
import { cstr, native, unwrap } from "../ffi.ts";
import { DeepwaterError } from "../errors.ts";
import { FLAG, RE } from "../format.ts";
import type { Log } from "../log.ts";
import { BasePaths } from "../paths.ts";
import { Registry } from "../registry.ts";

/** Options for {@linkcode cleanup}. */
export interface CleanupOptions {
  /** Report what would be deleted without deleting. */
  dryRun?: boolean;
  /** Only these feeds (default: all). */
  feeds?: string[];
  /** "Now" in microseconds since the epoch (tests). */
  nowUs?: number;
  /** Log deletions here. */
  log?: Log;
}

/** A chunk cleanup deleted (or would delete). */
export interface DeletedChunk {
  /** Chunk id. */
  id: number;
  /** Records it held. */
  records: number;
  /** Its newest timestamp. */
  maxTs: number;
  /** File size in bytes. */
  bytes: number;
}

/** Per-feed outcome. */
export interface FeedCleanup {
  /** Feed name. */
  feed: string;
  /** Retention applied, hours (0 = keep everything). */
  retentionHours: number;
  /** Chunks deleted (or, in a dry run, that would be). */
  deleted: DeletedChunk[];
  /** Chunks kept. */
  kept: number;
}

/** Whole outcome. */
export interface CleanupReport {
  /** Whether this was a dry run. */
  dryRun: boolean;
  /** Per feed. */
  feeds: FeedCleanup[];
  /** Bytes freed (or that would be). */
  bytesFreed: number;
}

/**
 * Apply retention to a data directory.
 *
 * @param basePath data directory
 * @param options dry run, feed filter, clock
 * @returns what was (or would be) deleted
 */
export function cleanup(basePath: string, options: CleanupOptions = {}): CleanupReport {
  const paths = new BasePaths(basePath);
  const entries = new Catalog(paths.catalog, paths.catalogLock).read();
  const nowUs = options.nowUs ?? Date.now() * 1000;
  const report: CleanupReport = { dryRun: options.dryRun ?? false, feeds: [], bytesFreed: 0 };
  for (const entry of entries) {
    const spec = entry.spec;
    if (options.feeds && !options.feeds.includes(spec.feed_name)) continue;
    if (!spec.persist) continue; // rings hold no files; their size is their retention
    const feed: FeedCleanup = {
      feed: spec.feed_name,
      retentionHours: spec.retention_hours,
      deleted: [],
      kept: 0,
    };
    report.feeds.push(feed);
    const lockFd = lock(paths.maintenanceLock(spec.feed_name));
    const reg = Registry.open(paths.registry(spec.feed_name), true);
    try {
      const cutoff = nowUs - spec.retention_hours * 3600e6;
      const last = reg.lastChunk();
      for (let id = Math.max(1, reg.firstChunk()); id <= last; id++) {
        const e = reg.entry(id);
        if (e.flags & FLAG.DELETED) continue;
        const expired = spec.retention_hours > 0 && id < last && (e.flags & FLAG.SEALED) !== 0 &&
          e.maxTs < cutoff;
        if (!expired) {
          feed.kept++;
          continue;
        }
        const path = paths.chunk(spec.feed_name, id);
        const bytes = fileSize(path);
        feed.deleted.push({ id, records: e.committed, maxTs: e.maxTs, bytes });
        report.bytesFreed += bytes;
        if (report.dryRun) continue;
        markDeleted(reg, id);
        advanceFirst(reg);
        try {
          Deno.removeSync(path);
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
        options.log?.info(`cleanup deleted chunk ${id} of "${spec.feed_name}"`, {
          records: e.committed,
          maxTs: e.maxTs,
        });
      }
    } finally {
      reg.close();
      native().dw_lock_close(lockFd);
    }
  }
  return report;
}

/** Set DELETED on a sealed entry and refresh its checksum, then publish the flags. */
export function markDeleted(reg: Registry, id: number): void {
  const o = reg.slot(id);
  const flags = reg.flags(id) | FLAG.DELETED;
  reg.dv.setUint32(o + RE.flags, flags, true);
  reg.dv.setUint32(o + RE.crc, reg.entryCrc(id), true);
  Atomics.store(reg.u32, reg.flagsIndex(id), flags);
}

/** Move `first_chunk` past a contiguous prefix of deleted chunks (never past the live one). */
export function advanceFirst(reg: Registry): void {
  let first = Math.max(1, reg.firstChunk());
  const last = reg.lastChunk();
  while (first < last && reg.flags(first) & FLAG.DELETED) first++;
  if (first !== reg.firstChunk()) reg.setFirstChunk(first);
}

/** Take an exclusive flock, waiting for it; returns the descriptor. */
export function lock(path: string): number {
  const fd = new Int32Array(1);
  unwrap(native().dw_lock_open(cstr(path), 1, 0, fd), "Cannot lock", path);
  return fd[0]!;
}

function fileSize(path: string): number {
  try {
    const st = Deno.statSync(path);
    return st.blocks !== null ? st.blocks * 512 : st.size;
  } catch {
    return 0;
  }
}

/** Throw unless every named feed exists. */
export function requireFeeds(basePath: string, names: string[]): void {
  const paths = new BasePaths(basePath);
  const have = new Set(
    new Catalog(paths.catalog, paths.catalogLock).read().map((e) => e.spec.feed_name),
  );
  for (const n of names) {
    if (!have.has(n)) {
      throw new DeepwaterError("FEED_NOT_FOUND", `Feed "${n}" does not exist in "${paths.base}"`);
    }
  }
}
