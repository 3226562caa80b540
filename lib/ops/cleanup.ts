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
import { Catalog } from "../directory/catalog.ts";
import { FileLock } from "../native/lock.ts";
import { DeepwaterError } from "../base/errors.ts";
import { FLAG } from "../chunks/format.ts";
import { chunkIdOf } from "../directory/paths.ts";
import { inspectChunkFile } from "../chunks/chunk_file.ts";
import { computeLayout, type NormalizedSpec } from "../schema/spec.ts";
import type { Log } from "../base/log.ts";
import { BasePaths } from "../directory/paths.ts";
import { Registry } from "../chunks/registry.ts";
import { allocatedBytes } from "./feed_stats.ts";

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
  /** Expired chunks kept because they could not be verified, and why. */
  refused: { id: number; why: string }[];
  /** Why this feed was skipped (a damaged registry), when it was. */
  error?: string;
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
      refused: [],
    };
    report.feeds.push(feed);
    try {
      cleanFeed(paths, spec, nowUs, report, feed, options.log);
    } catch (e) {
      // One damaged feed must not stop retention everywhere else.
      if (!(e instanceof DeepwaterError)) throw e;
      feed.error = e.message;
      options.log?.warn(`cleanup skipped "${spec.feed_name}": ${e.message}`);
    }
  }
  return report;
}

/**
 * Delete one feed's expired chunks. A chunk is deleted only when its entry is
 * intact (names it, sealed, checksum valid), so its newest timestamp can be
 * trusted, and its file is a regular file whose header says it is that
 * chunk of this feed. The entry is marked deleted (checksummed) and
 * `first_chunk` advanced before the unlink, so a cleanup killed in between
 * leaves a file that the next cleanup or repair removes.
 */
function cleanFeed(
  paths: BasePaths,
  spec: NormalizedSpec,
  nowUs: number,
  report: CleanupReport,
  feed: FeedCleanup,
  log: Log | undefined,
): void {
  const ctx = { recordSize: computeLayout(spec).recordSize };
  using _lock = report.dryRun
    ? undefined
    : FileLock.acquire(paths.maintenanceLock(spec.feed_name), {
      wait: true,
      action: "Cannot lock",
    });
  const reg = Registry.open(paths.registry(spec.feed_name), !report.dryRun);
  try {
    const cutoff = nowUs - spec.retention_hours * 3600e6;
    const { first, last } = reg.span();
    if (!report.dryRun && spec.retention_hours > 0) {
      finishInterrupted(paths, spec.feed_name, reg, first, ctx.recordSize, cutoff);
    }
    for (let id = first; id <= last && last !== 0; id++) {
      const e = reg.entry(id);
      const expired = spec.retention_hours > 0 && id < last && (e.flags & FLAG.SEALED) !== 0 &&
        e.maxTs < cutoff;
      if (e.flags & FLAG.DELETED) {
        // Finish an earlier deletion only where this run would have made it
        // (intact entry, expired, a file whose header names the chunk).
        const path = paths.chunk(spec.feed_name, id);
        if (!report.dryRun && expired && !untrusted(reg, id, path, ctx.recordSize)) {
          removeFinished(path);
        }
        continue;
      }
      if (!expired) {
        feed.kept++;
        continue;
      }
      const path = paths.chunk(spec.feed_name, id);
      const why = untrusted(reg, id, path, ctx.recordSize);
      if (why) {
        feed.kept++;
        feed.refused.push({ id, why });
        log?.warn(`cleanup kept chunk ${id} of "${spec.feed_name}": ${why}`);
        continue;
      }
      const bytes = allocatedBytes(path);
      feed.deleted.push({ id, records: e.committed, maxTs: e.maxTs, bytes });
      report.bytesFreed += bytes;
      if (report.dryRun) continue;
      reg.markDeleted(id);
      reg.advanceFirst();
      removeFinished(path);
      log?.info(`cleanup deleted chunk ${id} of "${spec.feed_name}"`, {
        records: e.committed,
        maxTs: e.maxTs,
      });
    }
  } finally {
    reg.close();
  }
}

/**
 * Remove the files of chunks below `first_chunk` that an earlier cleanup
 * marked deleted (intact entry) but was stopped before unlinking.
 */
function finishInterrupted(
  paths: BasePaths,
  feed: string,
  reg: Registry,
  first: number,
  recordSize: number,
  cutoff: number,
): void {
  for (const e of Deno.readDirSync(paths.feedDir(feed))) {
    const id = chunkIdOf(e.name);
    if (id === undefined || id >= first || !e.isFile) continue;
    if (!(reg.flags(id) & FLAG.DELETED) || reg.entry(id).maxTs >= cutoff) continue;
    const path = paths.chunk(feed, id);
    if (!untrusted(reg, id, path, recordSize)) removeFinished(path);
  }
}

/** Why chunk `id` cannot be trusted enough to delete, or undefined when it can. */
function untrusted(
  reg: Registry,
  id: number,
  path: string,
  recordSize: number,
): string | undefined {
  if (!reg.entryIntact(id)) return "its registry entry fails its checksum: run deepwater-repair";
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(path);
  } catch {
    return undefined; // already gone: only the entry is left to mark
  }
  if (!st.isFile) return "its file is not a regular file (a link?): move it out";
  const f = inspectChunkFile(path, id, st.size, recordSize, reg.layoutCrc);
  return f.headerValid ? undefined : "its file's header does not identify it: run deepwater-repair";
}

function removeFinished(path: string): void {
  try {
    if (!Deno.lstatSync(path).isFile) return;
    Deno.removeSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
