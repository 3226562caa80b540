/**
 * Repair (what `deepwater-repair` runs): reconcile catalog, registries and
 * chunk files after a crash or corruption without dropping a valid
 * committed record.
 *
 * Findings, and the fix applied when not a dry run:
 * - catalog unreadable (checksum, truncation): rebuilt from each feed's
 *   `spec.json`.
 * - registry missing or its header corrupt: rebuilt from the chunk files
 *   (sealed chunks record their final count in their header; the live
 *   chunk's count is the last record that is not all zero bytes).
 * - chunk file missing: the entry is marked deleted (its records are gone).
 * - chunk file with a bad header: moved aside to `<file>.corrupt`, entry
 *   marked deleted.
 * - committed count beyond the file or beyond the capacity (a trailing
 *   partial record): clamped to the whole records the file holds.
 * - chunk file shorter than its capacity (truncated): extended with zeros
 *   past the committed records, so readers and a resuming writer can map it.
 * - sealed entry with a bad checksum: its metadata recomputed from the data.
 * - chunk files no entry refers to (an unpublished next chunk, a cleanup
 *   interrupted before unlink): removed; they hold no committed record.
 * - stale writer record (the registry names a writer process that is gone
 *   and the writer lock is free): cleared.
 *
 * A feed whose writer is running (its lock is held) is reported and skipped:
 * repair never races a live writer. Cleanup and repair of one feed are
 * serialised by `<feed>/maintenance.lock`.
 *
 * @module
 */
import { Catalog, type CatalogEntry } from "../catalog.ts";
import { cstr, DW, native } from "../ffi.ts";
import { type FeedContext, feedContext } from "../feed.ts";
import {
  CH,
  CHUNK_HEADER,
  CHUNK_MAGIC,
  chunkIdOf,
  FLAG,
  PAGE,
  RE,
  REG_CAPACITY,
  RH,
  setU64,
  u64,
} from "../format.ts";
import { Log } from "../log.ts";
import { Mapping, MAX_MAPPING } from "../mapping.ts";
import { BasePaths } from "../paths.ts";
import { isNotFound, Registry } from "../registry.ts";
import { scanTs } from "../writer.ts";
import { lock, markDeleted } from "./cleanup.ts";
import { DeepwaterError } from "../errors.ts";
import { FORMAT_VERSION } from "../version.ts";

/** Options for {@linkcode repair}. */
export interface RepairOptions {
  /** Feeds to repair, or "all". */
  feeds: string[] | "all";
  /** Report without changing anything. */
  dryRun?: boolean;
  /** Called as chunks are checked (for a progress bar). */
  onProgress?: (done: number, total: number, feed: string) => void;
}

/** One problem found. */
export interface Finding {
  /** Feed, or "" for the catalog. */
  feed: string;
  /** Machine-readable kind. */
  kind:
    | "catalog-corrupt"
    | "registry-rebuilt"
    | "chunk-missing"
    | "chunk-corrupt"
    | "committed-beyond-file"
    | "chunk-short"
    | "entry-mismatch"
    | "entry-checksum"
    | "orphan-chunk"
    | "stale-writer"
    | "writer-active";
  /** What was found. */
  detail: string;
  /** Whether it was fixed (false in a dry run, or when it cannot be fixed). */
  fixed: boolean;
}

/** Outcome of a repair run. */
export interface RepairReport {
  /** Whether this was a dry run. */
  dryRun: boolean;
  /** Feeds examined. */
  feeds: string[];
  /** Chunks examined. */
  chunksChecked: number;
  /** Everything found. */
  findings: Finding[];
}

/**
 * Scan and (unless a dry run) repair a data directory.
 *
 * @param basePath data directory
 * @param options feeds, dry run, progress callback
 * @returns findings
 */
export function repair(basePath: string, options: RepairOptions): RepairReport {
  const paths = new BasePaths(basePath);
  const dryRun = options.dryRun ?? false;
  const report: RepairReport = { dryRun, feeds: [], chunksChecked: 0, findings: [] };
  const log = new Log(paths.log, { console: false, file: !dryRun });
  try {
    const entries = repairCatalog(paths, dryRun, report);
    const wanted = options.feeds === "all"
      ? entries
      : entries.filter((e) => options.feeds.includes(e.spec.feed_name));
    if (options.feeds !== "all") {
      for (const n of options.feeds) {
        if (!entries.some((e) => e.spec.feed_name === n)) {
          throw new DeepwaterError(
            "FEED_NOT_FOUND",
            `Feed "${n}" does not exist in "${paths.base}"`,
          );
        }
      }
    }
    for (const entry of wanted) {
      if (!entry.spec.persist) continue;
      report.feeds.push(entry.spec.feed_name);
      repairFeed(feedContext(entry, paths, log), dryRun, report, options.onProgress);
    }
    for (const f of report.findings) {
      if (f.fixed) log.warn(`repair fixed ${f.kind} in "${f.feed}": ${f.detail}`);
    }
  } finally {
    log.close();
  }
  return report;
}

function repairCatalog(paths: BasePaths, dryRun: boolean, report: RepairReport): CatalogEntry[] {
  const catalog = new Catalog(paths.catalog, paths.catalogLock);
  try {
    return catalog.read();
  } catch (e) {
    if (!(e instanceof DeepwaterError) || e.code !== "CORRUPT") throw e;
    const rebuilt: CatalogEntry[] = [];
    for (const d of safeReadDir(paths.feeds)) {
      try {
        const entry = JSON.parse(Deno.readTextFileSync(paths.specCopy(d))) as CatalogEntry;
        if (entry.spec?.feed_name === d) rebuilt.push(entry);
      } catch {
        // no usable spec copy: that feed cannot be recovered automatically
      }
    }
    rebuilt.sort((a, b) => a.created.localeCompare(b.created));
    report.findings.push({
      feed: "",
      kind: "catalog-corrupt",
      detail: `${
        e.message.split(":")[1]?.trim() ?? "unreadable"
      }; rebuilt from ${rebuilt.length} spec.json copies`,
      fixed: !dryRun,
    });
    if (!dryRun) catalog.rewrite(rebuilt);
    return rebuilt;
  }
}

function repairFeed(
  ctx: FeedContext,
  dryRun: boolean,
  report: RepairReport,
  onProgress: RepairOptions["onProgress"],
): void {
  const paths = ctx.paths;
  const find = (kind: Finding["kind"], detail: string, fixed = !dryRun) =>
    report.findings.push({ feed: ctx.name, kind, detail, fixed });
  // Never race a live writer: hold its lock for the whole repair.
  const writerFd = new Int32Array(1);
  const rc = native().dw_lock_open(cstr(paths.writerLock(ctx.name)), 1, 1, writerFd);
  if (rc === DW.ELOCKED) {
    find("writer-active", "a writer process holds the lock; stop it and run repair again", false);
    return;
  }
  if (rc !== 0) throw new DeepwaterError("IO", `Cannot lock "${paths.writerLock(ctx.name)}"`);
  const maintFd = lock(paths.maintenanceLock(ctx.name));
  try {
    let reg: Registry;
    try {
      reg = Registry.open(paths.registry(ctx.name), !dryRun);
    } catch (e) {
      if (!(e instanceof DeepwaterError) || (e.code !== "CORRUPT" && !isNotFound(e))) throw e;
      const rebuilt = rebuildRegistry(ctx, dryRun);
      find("registry-rebuilt", `${e.message}; ${rebuilt} chunk file(s) found`);
      if (dryRun) return;
      reg = Registry.open(paths.registry(ctx.name), true);
    }
    try {
      checkEntries(ctx, reg, dryRun, report, find, onProgress);
      removeOrphans(ctx, reg, dryRun, find);
      const pid = u64(reg.dv, RH.writerPid);
      if (pid !== 0) {
        find("stale-writer", `registry names writer pid ${pid}, which no longer holds the lock`);
        if (!dryRun) setU64(reg.dv, RH.writerPid, 0);
      }
    } finally {
      reg.close();
    }
  } finally {
    native().dw_lock_close(maintFd);
    native().dw_lock_close(writerFd[0]!);
  }
}

function checkEntries(
  ctx: FeedContext,
  reg: Registry,
  dryRun: boolean,
  report: RepairReport,
  find: (kind: Finding["kind"], detail: string, fixed?: boolean) => void,
  onProgress: RepairOptions["onProgress"],
): void {
  const rs = ctx.layout.recordSize;
  const first = Math.max(1, reg.firstChunk());
  const last = reg.lastChunk();
  const total = Math.max(0, last - first + 1);
  for (let id = first; id <= last; id++) {
    report.chunksChecked++;
    onProgress?.(id - first + 1, total, ctx.name);
    const e = reg.entry(id);
    if (e.flags & FLAG.DELETED) continue;
    const path = ctx.paths.chunk(ctx.name, id);
    const size = fileSize(path);
    if (size === undefined) {
      find("chunk-missing", `chunk ${id} (${e.committed} records) has no file; marking it deleted`);
      if (!dryRun) sealAndDelete(reg, id, e.flags);
      continue;
    }
    // An empty or header-less file cannot be mapped or trusted: set it aside.
    const m = size < CHUNK_HEADER ? undefined : Mapping.file(path, { write: !dryRun });
    try {
      const dv = m ? new DataView(m.buffer) : undefined;
      const capacity = dv ? u64(dv, CH.capacity) : 0;
      if (
        !m || !dv || dv.getUint32(CH.magic, true) !== CHUNK_MAGIC || u64(dv, CH.id) !== id ||
        dv.getUint32(CH.recordSize, true) !== rs || capacity < 1 ||
        CHUNK_HEADER + capacity * rs > MAX_MAPPING
      ) {
        find("chunk-corrupt", `chunk ${id} has a bad header; moving it to ${path}.corrupt`);
        if (!dryRun) {
          sealAndDelete(reg, id, e.flags);
          Deno.renameSync(path, `${path}.corrupt`);
        }
        continue;
      }
      // The chunk header's capacity was written once, at creation, by the
      // writer: it is the authority when the registry entry disagrees.
      if (capacity !== e.capacity) {
        find(
          "entry-mismatch",
          `chunk ${id}'s registry entry says capacity ${e.capacity}, its header says ${capacity}; using the header`,
        );
        if (!dryRun) setU64(reg.dv, reg.slot(id) + RE.capacity, capacity);
      }
      const fits = Math.min(Math.floor((size - CHUNK_HEADER) / rs), capacity);
      let count = e.committed;
      if (count > fits) {
        find(
          "committed-beyond-file",
          `chunk ${id} commits ${count} records but its file holds ${fits} whole records; clamping`,
        );
        count = fits;
        if (!dryRun) {
          Atomics.store(reg.u32, reg.commitIndex(id), count);
          if (e.flags & FLAG.SEALED) setU64(dv, CH.sealedCount, count);
        }
      }
      // Readers and a resuming writer need the whole capacity mapped. Growing
      // a file is safe under existing mappings (shrinking is what SIGBUSes);
      // the new bytes are zeros past the committed count, never read.
      const need = CHUNK_HEADER + capacity * rs;
      if (size < need) {
        find(
          "chunk-short",
          `chunk ${id}'s file is ${size} bytes; its ${capacity}-record capacity needs ${need}; extending with zeros`,
        );
        if (!dryRun) Deno.truncateSync(path, Math.ceil(need / PAGE) * PAGE);
      }
      const resealed = count !== e.committed || capacity !== e.capacity;
      if (e.flags & FLAG.SEALED && (resealed || reg.entryCrc(id) !== e.crc)) {
        if (!resealed) {
          find("entry-checksum", `chunk ${id}'s registry entry fails its checksum; recomputing`);
        }
        if (!dryRun) {
          const s = scanTs(m.addr + BigInt(CHUNK_HEADER), count, rs, ctx.layout.tsOffset);
          const o = reg.slot(id);
          setU64(reg.dv, o + RE.id, id);
          setU64(reg.dv, o + RE.capacity, capacity);
          const ooo = s.sorted ? 0 : FLAG.OUT_OF_ORDER;
          const flags = (e.flags & ~FLAG.OUT_OF_ORDER) | ooo;
          reg.dv.setUint32(o + RE.flags, flags & ~FLAG.SEALED, true);
          reg.seal(id, s.min, s.max, s.last, flags);
        }
      }
    } finally {
      m?.close();
    }
  }
}

/** Mark an entry sealed and deleted (so a resuming writer starts a fresh chunk). */
function sealAndDelete(reg: Registry, id: number, flags: number): void {
  if (!(flags & FLAG.SEALED)) reg.seal(id, 0, 0, 0, 0);
  markDeleted(reg, id);
}

function removeOrphans(
  ctx: FeedContext,
  reg: Registry,
  dryRun: boolean,
  find: (kind: Finding["kind"], detail: string) => void,
): void {
  const first = Math.max(1, reg.firstChunk());
  const last = reg.lastChunk();
  for (const name of safeReadDir(ctx.paths.feedDir(ctx.name))) {
    const id = chunkIdOf(name);
    if (id === undefined) continue;
    const inRange = id >= first && id <= last && !(reg.flags(id) & FLAG.DELETED);
    if (inRange) continue;
    find(
      "orphan-chunk",
      `${name} is not a retained chunk (retained: ${first}..${last}); removing it`,
    );
    if (!dryRun) Deno.removeSync(ctx.paths.chunk(ctx.name, id));
  }
}

/**
 * Rebuild a registry from the chunk files. Returns the number found. Sealed
 * chunks carry their final count; the newest chunk's count is the last
 * record with a non-zero byte.
 */
function rebuildRegistry(ctx: FeedContext, dryRun: boolean): number {
  const dir = ctx.paths.feedDir(ctx.name);
  const ids = safeReadDir(dir).map(chunkIdOf).filter((x): x is number => x !== undefined).sort((
    a,
    b,
  ) => a - b);
  if (dryRun) return ids.length;
  const path = ctx.paths.registry(ctx.name);
  try {
    Deno.renameSync(path, `${path}.corrupt`);
  } catch {
    // missing: nothing to keep aside
  }
  Registry.create(path, {
    capacity: REG_CAPACITY,
    recordSize: ctx.layout.recordSize,
    tsOffset: ctx.layout.tsOffset,
    layoutCrc: ctx.layoutCrc,
  });
  const reg = Registry.open(path, true);
  const rs = ctx.layout.recordSize;
  try {
    if (ids.length === 0) return 0;
    reg.setFirstChunk(ids[0]!);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      using m = Mapping.file(ctx.paths.chunk(ctx.name, id));
      const dv = new DataView(m.buffer);
      const valid = m.length >= CHUNK_HEADER && dv.getUint32(CH.magic, true) === CHUNK_MAGIC &&
        u64(dv, CH.id) === id && dv.getUint32(CH.recordSize, true) === rs &&
        dv.getUint32(CH.version, true) === FORMAT_VERSION;
      const capacity = valid ? u64(dv, CH.capacity) : 0;
      reg.publishChunk(id, capacity);
      if (!valid) {
        sealAndDelete(reg, id, 0);
        continue;
      }
      const fits = Math.min(capacity, Math.floor((m.length - CHUNK_HEADER) / rs));
      const sealedCount = u64(dv, CH.sealedCount);
      const isLast = i === ids.length - 1;
      const count = sealedCount > 0 ? Math.min(sealedCount, fits) : lastNonZero(m, fits, rs);
      Atomics.store(reg.u32, reg.commitIndex(id), count);
      if (!isLast || sealedCount > 0) {
        const s = scanTs(m.addr + BigInt(CHUNK_HEADER), count, rs, ctx.layout.tsOffset);
        reg.seal(id, s.min, s.max, s.last, s.sorted ? 0 : FLAG.OUT_OF_ORDER);
      }
    }
  } finally {
    reg.close();
  }
  return ids.length;
}

function lastNonZero(m: Mapping, fits: number, rs: number): number {
  const u8 = new Uint8Array(m.buffer);
  for (let i = fits - 1; i >= 0; i--) {
    const o = CHUNK_HEADER + i * rs;
    for (let k = 0; k < rs; k++) if (u8[o + k] !== 0) return i + 1;
  }
  return 0;
}

/** Size of a file in bytes, or undefined when it does not exist. */
function fileSize(path: string): number | undefined {
  try {
    return Deno.statSync(path).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

function safeReadDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}
