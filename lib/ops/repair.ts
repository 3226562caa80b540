/**
 * Repair (what `deepwater-repair` runs): reconcile catalog, registries and
 * chunk files after a crash or corruption without losing a committed record.
 *
 * Repair works from evidence, never from one unchecked word:
 * - A registry entry is trusted only when it names its own chunk id and,
 *   once sealed, passes its CRC32C. `first_chunk`, `last_chunk` and the live
 *   chunk's commit word carry no checksum; they are cross-checked against the
 *   chunk files, whose headers name their id, record size, layout and (once
 *   sealed) final count.
 * - For each chunk id the desired entry and header are derived from what is
 *   trustworthy (an intact entry first, then a valid chunk header, then the
 *   file's own size and data), and whichever side is damaged is rebuilt from
 *   the other. A chunk file past `last_chunk` holding data is adopted.
 * - Nothing holding data is deleted. What cannot be placed (a file no entry
 *   or header identifies, a chunk outside what the registry can hold) is moved
 *   to `<base>/quarantine/<feed>/` with a note of why. A file that is not a
 *   regular file (a link, a directory) is never touched, only reported. The
 *   one removal is a chunk whose intact entry says retention already deleted
 *   it: finishing an interrupted cleanup.
 * - Every fix is idempotent and ordered so that a repair killed at any
 *   instant and run again converges on the result of an uninterrupted run: a
 *   registry or catalog that must be rebuilt is built complete under a
 *   temporary name and renamed into place; entries are filled before
 *   `last_chunk` publishes them; an entry is marked deleted before its file is
 *   moved to quarantine.
 *
 * A feed whose writer is running (its lock is held) is not changed: a dry run
 * inspects it as it is (health runs one), a real run reports and skips it.
 * Cleanup and repair of one feed are serialised by `<feed>/maintenance.lock`.
 *
 * @module
 */
import { removeQuietly } from "../native/atomic_file.ts";
import {
  Catalog,
  CATALOG_FIELDS,
  type CatalogEntry,
  salvageCatalog,
} from "../directory/catalog.ts";
import { recoverEntry } from "./recover.ts";
import { crc32c } from "../native/checksum.ts";
import { FileLock } from "../native/lock.ts";
import { type FeedContext, feedContext } from "../directory/feed.ts";
import {
  CHUNK_FIELDS,
  CHUNK_HEADER,
  FLAG,
  MAX_CHUNK_RECORDS,
  REG_CAPACITY,
  REGISTRY_FIELDS,
  sealChunkHeader,
  writeChunkHeader,
} from "../chunks/format.ts";
import { chunkIdOf } from "../directory/paths.ts";
import { PAGE } from "../schema/header.ts";
import { Log } from "../base/log.ts";
import { ensureManifest, readManifest } from "../directory/manifest.ts";
import { MARKER_CAPACITY, MarkerFile } from "../chunks/markers.ts";
import { FORMAT_VERSION } from "../base/version.ts";
import { Mapping, MAX_MAPPING } from "../native/mapping.ts";
import { BasePaths } from "../directory/paths.ts";
import { type ChunkEntry, isNotFound, Registry } from "../chunks/registry.ts";
import { scanTs } from "../native/scan.ts";
import { DeepwaterError } from "../base/errors.ts";
import { quarantine } from "./quarantine.ts";
import { type FileEvidence, inspectChunkFile } from "../chunks/chunk_file.ts";

/** Options for {@linkcode repair}. */
export interface RepairOptions {
  /** Feeds to repair, or "all". */
  feeds: string[] | "all";
  /** Report without changing anything. */
  dryRun?: boolean;
  /** Called as chunks are checked (for a progress bar). */
  onProgress?: (done: number, total: number, feed: string) => void;
}

/** Machine-readable kinds of {@linkcode Finding}. */
export type FindingKind =
  | "catalog-corrupt"
  | "catalog-missing"
  | "catalog-missing-feed"
  | "registry-rebuilt"
  | "layout-mismatch"
  | "span-corrupt"
  | "chunk-adopted"
  | "chunk-missing"
  | "chunk-corrupt"
  | "chunk-header-rebuilt"
  | "committed-beyond-file"
  | "committed-beyond-data"
  | "committed-below-data"
  | "chunk-short"
  | "entry-mismatch"
  | "entry-checksum"
  | "entry-rebuilt"
  | "orphan-chunk"
  | "cleanup-unfinished"
  | "not-a-file"
  | "foreign-file"
  | "stale-writer"
  | "manifest-corrupt"
  | "markers-damaged"
  | "writer-active";

/** One problem found. */
export interface Finding {
  /** Feed, or "" for the catalog. */
  feed: string;
  /** Machine-readable kind. */
  kind: FindingKind;
  /** What was found, and what was (or would be) done. */
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
  /** Files moved to `<base>/quarantine/` by this run. */
  quarantined: string[];
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
  const report: RepairReport = {
    dryRun,
    feeds: [],
    chunksChecked: 0,
    findings: [],
    quarantined: [],
  };
  const log = new Log(paths.log, { console: false, file: !dryRun });
  try {
    repairManifest(paths, dryRun, report);
    const entries = repairCatalog(paths, dryRun, report);
    if (options.feeds !== "all") {
      for (const n of options.feeds) {
        if (!entries.some((e) => e.spec.feed_name === n)) {
          throw new DeepwaterError(
            "FEED_NOT_FOUND",
            `Feed "${n}" does not exist in "${paths.base}": check the name with deepwater feeds`,
          );
        }
      }
    }
    const wanted = options.feeds === "all"
      ? entries
      : entries.filter((e) => options.feeds.includes(e.spec.feed_name));
    for (const entry of wanted) {
      if (!entry.spec.persist) continue;
      report.feeds.push(entry.spec.feed_name);
      const ctx = feedContext(entry, paths, log);
      new FeedRepair(ctx, dryRun, report, options.onProgress).run();
    }
    for (const f of report.findings) {
      if (f.fixed) log.warn(`repair fixed ${f.kind} in "${f.feed}": ${f.detail}`);
    }
  } finally {
    log.close();
  }
  return report;
}

/**
 * A damaged (or, beside feed directories, missing) manifest is replaced by a
 * new one for this build's format: every registry and chunk header repair
 * then opens checks that format itself. The old file goes to quarantine.
 */
function repairManifest(paths: BasePaths, dryRun: boolean, report: RepairReport): void {
  let why: string;
  try {
    if (readManifest(paths.manifest) || feedDirs(paths).length === 0) return;
    why = "manifest.json is missing";
  } catch (e) {
    if (!(e instanceof DeepwaterError)) throw e;
    // The manifest carries no checksum, but the catalog and registry headers
    // do and record the format too: when every one of them is this build's,
    // it is the manifest's format word that is damaged, not the data.
    if (e.code === "VERSION_MISMATCH" && !dataIsThisFormat(paths)) throw e;
    if (e.code !== "CORRUPT" && e.code !== "VERSION_MISMATCH") throw e;
    why = e.message;
  }
  report.findings.push({
    feed: "",
    kind: "manifest-corrupt",
    detail: `${why}; writing a new one for format ${FORMAT_VERSION}`,
    fixed: !dryRun,
  });
  if (dryRun) return;
  const kept = quarantine(paths, "", paths.manifest, why);
  if (kept) report.quarantined.push(kept);
  ensureManifest(paths.manifest, paths.catalogLock);
}

/**
 * Whether the catalog and every registry that passes its header checksum say
 * this build's format (and at least one of them exists to say so).
 */
function dataIsThisFormat(paths: BasePaths): boolean {
  const files = [paths.catalog, ...feedDirs(paths).map((d) => paths.registry(d))];
  let seen = 0;
  for (const path of files) {
    try {
      const st = Deno.lstatSync(path);
      if (!st.isFile || st.size < 64) continue;
      using f = Deno.openSync(path, { read: true });
      const head = new Uint8Array(64);
      f.readSync(head);
      const dv = new DataView(head.buffer);
      const crcAt = path === paths.catalog ? CATALOG_FIELDS.headerCrc : REGISTRY_FIELDS.headerCrc;
      if (crc32c(head.slice(0, crcAt)) !== dv.getUint32(crcAt, true)) continue;
      if (dv.getUint32(4, true) !== FORMAT_VERSION) return false;
      seen++;
    } catch {
      // missing or unreadable: no evidence either way
    }
  }
  return seen > 0;
}

function repairCatalog(paths: BasePaths, dryRun: boolean, report: RepairReport): CatalogEntry[] {
  const catalog = new Catalog(paths.catalog, paths.catalogLock);
  const find = (kind: FindingKind, detail: string, fixed = !dryRun) =>
    report.findings.push({ feed: "", kind, detail, fixed });
  const dirs = feedDirs(paths);
  let entries: CatalogEntry[];
  let why: string | undefined;
  try {
    entries = [...catalog.read()];
    if (entries.length === 0 && dirs.length > 0 && !catalog.exists()) why = "missing";
  } catch (e) {
    if (!(e instanceof DeepwaterError) || e.code !== "CORRUPT") throw e;
    why = e.message;
    entries = salvageCatalog(paths.catalog);
  }
  // Feeds whose directories the catalog does not list (a lost catalog, or one
  // restored from an older backup) come back from their own directories.
  const known = new Set(entries.map((e) => e.spec.feed_name));
  const restored: string[] = [];
  const lost: string[] = [];
  for (const d of dirs) {
    if (known.has(d)) continue;
    const entry = recoverEntry(paths, d);
    if (entry) {
      entries.push(entry);
      restored.push(d);
    } else lost.push(d);
  }
  if (why !== undefined) {
    find(
      why === "missing" ? "catalog-missing" : "catalog-corrupt",
      `${
        why === "missing" ? "catalog.dwc is missing" : why
      }; rebuilt with ${entries.length} feed(s)${
        restored.length ? ` (${restored.join(", ")} from their directories)` : ""
      }`,
    );
  } else if (restored.length) {
    find(
      "catalog-missing-feed",
      `the catalog does not list ${restored.join(", ")}; restored from their directories`,
    );
  }
  if (lost.length) {
    find(
      "catalog-missing-feed",
      `feed director${lost.length === 1 ? "y" : "ies"} ${
        lost.join(", ")
      } hold no usable spec (spec.json and the registry's copy are both unreadable): restore a spec.json from a backup, then run repair again`,
      false,
    );
  }
  if (!dryRun && (why !== undefined || restored.length)) {
    entries.sort((a, b) => a.created.localeCompare(b.created));
    catalog.rewrite(entries);
  }
  return entries;
}

/** Feed directory names under `feeds/` (real directories only). */
function feedDirs(paths: BasePaths): string[] {
  try {
    return [...Deno.readDirSync(paths.feeds)].filter((e) => e.isDirectory).map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** The decision for one chunk id in the retained range. */
interface Plan {
  entry: ChunkEntry;
  /** The header to write, or undefined when the file's header is right. */
  header?: { capacity: number; sealedCount: number };
  /** Grow the file to this size. */
  extendTo?: number;
  /** Move the file to quarantine (after the entry is marked deleted). */
  quarantine?: string;
}

class FeedRepair {
  readonly #ctx: FeedContext;
  readonly #dryRun: boolean;
  readonly #report: RepairReport;
  readonly #onProgress: RepairOptions["onProgress"];
  readonly #rs: number;
  readonly #dir: string;

  constructor(
    ctx: FeedContext,
    dryRun: boolean,
    report: RepairReport,
    onProgress: RepairOptions["onProgress"],
  ) {
    this.#ctx = ctx;
    this.#dryRun = dryRun;
    this.#report = report;
    this.#onProgress = onProgress;
    this.#rs = ctx.layout.recordSize;
    this.#dir = ctx.paths.feedDir(ctx.name);
  }

  #find(kind: FindingKind, detail: string, fixed = !this.#dryRun): void {
    this.#report.findings.push({ feed: this.#ctx.name, kind, detail, fixed });
  }

  run(): void {
    const paths = this.#ctx.paths;
    const name = this.#ctx.name;
    const dirInfo = lstat(this.#dir);
    if (!dirInfo?.isDirectory) {
      this.#find(
        "not-a-file",
        `"${this.#dir}" is ${
          dirInfo?.isSymlink ? "a symbolic link" : "missing or not a directory"
        }; Deepwater does not follow links inside its data directory: put the feed's real directory there`,
        false,
      );
      return;
    }
    // Never race a live writer: a real run holds its lock for the whole
    // repair. A dry run only asks whether a writer holds it (read-only, never
    // creating the file, so it works for a user who may only read) and then
    // inspects the feed as it is, changing nothing.
    const lockPath = paths.writerLock(name);
    if (this.#dryRun) {
      this.#repair(FileLock.probe(lockPath, "Cannot probe the writer lock"));
      return;
    }
    using writerLock = FileLock.tryAcquire(lockPath, { action: "Cannot lock the writer lock" });
    if (!writerLock) {
      this.#find(
        "writer-active",
        "a writer process holds the lock; stop it and run repair again",
        false,
      );
      return;
    }
    using _maintenance = FileLock.acquire(paths.maintenanceLock(name), {
      wait: true,
      action: "Cannot lock",
    });
    this.#repair(false);
  }

  #repair(live: boolean): void {
    const ctx = this.#ctx;
    const path = ctx.paths.registry(ctx.name);
    let reg: Registry | undefined;
    let regProblem: string | undefined;
    const info = lstat(path);
    if (info && !info.isFile) {
      regProblem = `"${path}" is ${info.isSymlink ? "a symbolic link" : "not a regular file"}`;
    } else {
      try {
        reg = Registry.open(path, false);
      } catch (e) {
        if (!(e instanceof DeepwaterError) || (e.code !== "CORRUPT" && !isNotFound(e))) throw e;
        regProblem = e.message;
      }
    }
    if (reg && !this.#matchesLayout(reg)) {
      reg.close();
      return;
    }
    // Read last_chunk before listing the files: with a live writer, a chunk
    // published after the listing is then simply newer than what we check.
    const lastSeen = reg?.lastChunk() ?? 0;
    const files = this.#files();
    try {
      if (!reg) {
        this.#rebuild(files, regProblem!);
        return;
      }
      if (live) { for (const id of files.keys()) if (id > lastSeen) files.delete(id); }
      this.#reconcile(reg, files, live, lastSeen);
    } finally {
      reg?.close();
    }
  }

  #matchesLayout(reg: Registry): boolean {
    const l = this.#ctx.layout;
    if (
      reg.recordSize === l.recordSize && reg.tsOffset === l.tsOffset &&
      reg.layoutCrc === this.#ctx.layoutCrc
    ) return true;
    this.#find(
      "layout-mismatch",
      `registry "${reg.path}" was written for another layout (record size ${reg.recordSize}) than the catalog's (${l.recordSize}); nothing changed: restore the feed's catalog entry (spec.json) from a backup`,
      false,
    );
    return false;
  }

  /** Every file in the feed directory named like a chunk, inspected. */
  #files(): Map<number, FileEvidence> {
    const out = new Map<number, FileEvidence>();
    for (const e of safeReadDir(this.#dir)) {
      const id = chunkIdOf(e.name);
      if (id === undefined) continue;
      const path = `${this.#dir}/${e.name}`;
      const st = lstat(path);
      if (!st) continue;
      if (!st.isFile) {
        this.#find(
          "not-a-file",
          `${e.name} is ${
            st.isSymlink ? "a symbolic link" : "not a regular file"
          }; left untouched: move it out of "${this.#dir}"`,
          false,
        );
        continue;
      }
      out.set(id, inspectChunkFile(path, id, st.size, this.#rs, this.#ctx.layoutCrc));
    }
    this.#identifyByData(out);
    return out;
  }

  /**
   * A file whose header is too damaged to name it (several fields at once)
   * is still this feed's chunk when its records say so: timestamps in order,
   * after those of the nearest chunk before it and before those of the
   * nearest chunk after it. Only files between recognised chunks qualify, so
   * a stray file is never adopted on its own say-so.
   */
  #identifyByData(files: Map<number, FileEvidence>): void {
    const ours = [...files.values()].filter((f) => f.ours && f.holdsData).sort((a, b) =>
      a.id - b.id
    );
    for (const f of files.values()) {
      if (f.ours || f.blank || f.size < CHUNK_HEADER + this.#rs) continue;
      const prev = ours.filter((o) => o.id < f.id).at(-1);
      const next = ours.find((o) => o.id > f.id);
      if (!prev || !next) continue;
      const mine = this.#tsSpan(f);
      const before = this.#tsSpan(prev), after = this.#tsSpan(next);
      if (
        mine && before && after && mine.sorted && before.sorted && after.sorted &&
        mine.first >= before.last && mine.last <= after.first
      ) {
        f.ours = true;
        f.holdsData = true;
      }
    }
  }

  /** First and last timestamps of a chunk file's written records, read from the data. */
  #tsSpan(f: FileEvidence): { first: number; last: number; sorted: boolean } | undefined {
    const cap = Math.min(Math.floor((f.size - CHUNK_HEADER) / this.#rs), MAX_CHUNK_RECORDS);
    const length = CHUNK_HEADER + cap * this.#rs;
    if (cap < 1 || length > MAX_MAPPING) return undefined;
    using m = Mapping.file(f.path, { length });
    const n = lastNonZero(new Uint8Array(m.buffer), cap, this.#rs);
    if (n === 0) return undefined;
    const t = scanTs(m.addr + BigInt(CHUNK_HEADER), n, this.#rs, this.#ctx.layout.tsOffset);
    return t.big ? undefined : { first: t.first, last: t.last, sorted: t.sorted };
  }

  /** The registry header is readable: check every entry and file against each other. */
  #reconcile(
    reg: Registry,
    files: Map<number, FileEvidence>,
    live: boolean,
    regLast: number,
  ): void {
    const regFirst = Math.max(1, reg.firstChunk());
    // Neither word has a checksum: each must be backed by its own chunk's
    // intact entry or file, or the range is rebuilt from the evidence.
    const backed = (id: number) => reg.entryIntact(id) || files.get(id)?.ours === true;
    const spanOk = regLast === 0 ||
      (regFirst <= regLast && regLast - regFirst < reg.capacity && backed(regFirst) &&
        backed(regLast));
    // Chunks that evidence says are retained: intact entries with their files,
    // and files recognisably ours that hold data.
    const evidence = new Set<number>();
    for (const [id, f] of files) {
      const intact = reg.entryIntact(id);
      const deleted = intact && (reg.flags(id) & FLAG.DELETED) !== 0;
      if (!deleted && f.ours && (intact || f.holdsData)) evidence.add(id);
    }
    if (spanOk) {
      for (let id = regFirst; id <= regLast; id++) {
        if (reg.entryIntact(id) && !(reg.flags(id) & FLAG.DELETED)) evidence.add(id);
      }
    } else {
      // Every slot that holds an intact entry for its own id (bounded by the file's capacity).
      for (let k = 0; k < reg.capacity; k++) {
        const id = reg.slotId(k);
        if (id > 0 && reg.entryIntact(id) && !(reg.flags(id) & FLAG.DELETED)) evidence.add(id);
      }
    }
    let first = regFirst, last = regLast;
    if (!spanOk) {
      const ids = [...evidence].sort((a, b) => a - b);
      last = ids.at(-1) ?? 0;
      first = ids[0] ?? 1;
    }
    // Adopt chunks past last_chunk that hold data (last_chunk damaged lower,
    // or a writer killed between filling a chunk and publishing it cannot
    // happen: records are written only after publication).
    for (const id of evidence) if (id > last && files.get(id)!.holdsData) last = id;
    // Chunks below first_chunk whose intact entries still retain them (not
    // ones retention marked deleted and had yet to unlink).
    for (const id of evidence) if (id < first) first = id;
    if (last !== 0 && last - first >= reg.capacity) first = last - reg.capacity + 1;
    if (last === 0) first = Math.max(1, regFirst);
    if (first !== regFirst || last !== regLast) {
      this.#find(
        last > regLast && spanOk ? "chunk-adopted" : "span-corrupt",
        `registry says chunks ${regFirst}..${regLast}, the chunk files and intact entries say ${first}..${last}; using ${first}..${last}`,
      );
    }
    if (live && (first !== regFirst || last !== regLast)) return; // never second-guess a live writer further
    const plans = new Map<number, Plan>();
    const total = Math.max(0, last - first + 1);
    // A running writer owns its newest chunk (it may be sealing it right now).
    const checkUpTo = live ? last - 1 : last;
    for (let id = first; id <= checkUpTo && last !== 0; id++) {
      this.#report.chunksChecked++;
      this.#onProgress?.(id - first + 1, total, this.#ctx.name);
      const state = reg.entryIntact(id)
        ? "intact"
        : entryNamesChunk(reg, id)
        ? "checksum"
        : "absent";
      const plan = this.#plan(
        id,
        intactEntry(reg, id),
        state,
        files.get(id),
        id === last,
        live,
      );
      if (plan) plans.set(id, plan);
    }
    const outside = this.#outside((id) => intactEntry(reg, id), files, first, last);
    // Judged against the counts this run settles on, not the damaged ones.
    const countOf = (id: number) => plans.get(id)?.entry.committed ?? reg.committed(id);
    const markers = live ? undefined : this.#markersProblem(reg, first, last, countOf);
    const stale = !live && reg.writerPid() !== 0;
    if (stale) {
      this.#find(
        "stale-writer",
        `registry names writer pid ${reg.writerPid()}, which no longer holds the lock`,
      );
    }
    if (this.#dryRun || live) return;
    const w = Registry.open(reg.path, true);
    try {
      this.#apply(w, plans);
      if (first !== regFirst) w.setFirstChunk(first);
      if (last !== regLast) w.setLastChunk(last);
      this.#finishOutside(outside);
      if (markers !== undefined) this.#dropMarkers(w, markers);
      if (stale) w.clearWriter();
    } finally {
      w.close();
    }
  }

  /**
   * Decide chunk `id`'s entry (and any header rebuild) from an intact entry,
   * its header, and its data. Returns undefined when nothing needs changing.
   */
  #plan(
    id: number,
    entry: ChunkEntry | undefined,
    entryState: "intact" | "checksum" | "absent",
    file: FileEvidence | undefined,
    isLast: boolean,
    live: boolean,
  ): Plan | undefined {
    const rs = this.#rs;
    const deleted = entry !== undefined && (entry.flags & FLAG.DELETED) !== 0;
    if (!file) {
      if (deleted) return undefined;
      const n = entry?.committed ?? 0;
      this.#find(
        "chunk-missing",
        `chunk ${id}${
          entry ? ` (${n} records)` : ""
        } has no file; its records are gone: marking it deleted`,
      );
      return { entry: deletedEntry(id, entry) };
    }
    if (deleted) {
      // Retention deleted it (intact entry) but was stopped before the unlink.
      return undefined; // handled with the files outside the live range
    }
    const headerOk = file.headerValid;
    if (!entry && !file.ours) {
      // Nothing says this file is chunk `id`: its slot is retired and the
      // file left where it is for an operator (a blank one is quarantined
      // with the files outside the retained range on the next run).
      if (!file.blank) {
        this.#foreign(file);
        return { entry: deletedEntry(id, undefined) };
      }
      this.#find("orphan-chunk", `${name(file)} holds nothing; moving it to quarantine`);
      return { entry: deletedEntry(id, undefined), quarantine: "it holds nothing" };
    }
    // Capacity: a checksummed (sealed) entry, else a valid header, else an
    // unsealed entry that names this chunk, else what the file size holds.
    const fromSize = Math.min(Math.floor((file.size - CHUNK_HEADER) / rs), MAX_CHUNK_RECORDS);
    // A size the writer would have made for a capacity: one that matches the
    // file outvotes one that does not (a single damaged word either side).
    const matchesFile = (cap: number) =>
      cap >= 1 && CHUNK_HEADER + cap * rs <= MAX_MAPPING &&
      Math.ceil((CHUNK_HEADER + cap * rs) / PAGE) * PAGE === file.size;
    let capacity: number;
    if (entry && entry.flags & FLAG.SEALED && entry.capacity >= 1) capacity = entry.capacity;
    else if (entry && matchesFile(entry.capacity)) capacity = entry.capacity;
    else if (headerOk && matchesFile(file.capacity)) capacity = file.capacity;
    else if (entry && entry.capacity >= 1) capacity = entry.capacity;
    else if (headerOk) capacity = file.capacity;
    else capacity = fromSize;
    if (capacity < 1 || CHUNK_HEADER + capacity * rs > MAX_MAPPING) {
      this.#find(
        "chunk-corrupt",
        `chunk ${id}: no trustworthy capacity (file ${file.size} bytes); moving it to quarantine`,
      );
      return { entry: deletedEntry(id, entry), quarantine: "no trustworthy capacity" };
    }
    const need = CHUNK_HEADER + capacity * rs;
    const fits = Math.min(Math.floor(Math.max(0, file.size - CHUNK_HEADER) / rs), capacity);
    const plan: Plan = {
      entry: {
        id,
        committed: 0,
        capacity,
        minTs: 0,
        maxTs: 0,
        lastTs: 0,
        created: entry?.created ?? Date.now() * 1000,
        flags: 0,
        crc: 0,
      },
    };
    let changed = false;
    if (entry && headerOk && entry.capacity !== file.capacity) {
      this.#find(
        "entry-mismatch",
        `chunk ${id}'s registry entry says capacity ${entry.capacity}, its header ${file.capacity}; using ${capacity} (${
          entry.flags & FLAG.SEALED ? "the checksummed entry" : "the header"
        })`,
      );
      changed = true;
    }
    // Count: a checksummed entry, else the header's sealed count, else the
    // live commit word checked against the data, else the data itself.
    // The newest chunk is live unless its entry (or, with no entry, its
    // header) says it was sealed; an entry that names it outvotes the header.
    const headerSealed = headerOk && file.sealedCount > 0;
    const sealed = !isLast ||
      (entry ? (entry.flags & FLAG.SEALED) !== 0 : headerSealed);
    let count: number;
    let source: string;
    if (entry && entry.flags & FLAG.SEALED) [count, source] = [entry.committed, "entry"];
    else if (!isLast && headerSealed) [count, source] = [file.sealedCount, "header"];
    else if (entry) [count, source] = [entry.committed, "commit word"];
    else if (headerSealed) [count, source] = [file.sealedCount, "header"];
    else [count, source] = [-1, "data"];
    if (count > fits) {
      if (file.size < need && count <= capacity) {
        // Truncated file: the records past its end are gone.
        this.#find(
          "committed-beyond-file",
          `chunk ${id} commits ${count} records but its file holds ${fits} whole records; clamping`,
        );
      } else {
        this.#find(
          "committed-beyond-file",
          `chunk ${id}'s ${source} says ${count} records but the chunk holds ${fits}; clamping`,
        );
      }
      count = fits;
      changed = true;
    }
    const copy = file.liveCount;
    const m = this.#map(file.path, Math.min(file.size, need));
    try {
      const data = m ? m.addr + BigInt(CHUNK_HEADER) : 0n;
      const u8 = m ? new Uint8Array(m.buffer) : new Uint8Array(0);
      if (count < 0) {
        // No word to go by: the chunk's own copy (records past it were never
        // committed, a torn last record among them), else its data.
        count = copy > 0 && copy <= fits && !isZero(u8, copy - 1, rs)
          ? copy
          : lastNonZero(u8, fits, rs);
        if (entry || !headerOk || !sealed) changed = true;
      } else if (
        !sealed && source === "commit word" && copy > count && copy <= fits &&
        !isZero(u8, copy - 1, rs)
      ) {
        // The writer stores the copy right after the commit word, so a copy
        // ahead of the word (over written records) means the word was damaged.
        this.#find(
          "committed-below-data",
          `live chunk ${id}'s commit word says ${count} records but the chunk's own copy says ${copy} and they are written; restoring ${copy}`,
        );
        count = copy;
        changed = true;
      } else if (
        !sealed && source === "commit word" && file.publishing > 0 && count > file.publishing
      ) {
        // The writer stores the count it publishes in the header first: a
        // word above it is damage. What was last published is the copy.
        const to = Math.min(copy, fits);
        this.#find(
          "committed-beyond-data",
          `live chunk ${id}'s commit word says ${count} records but the chunk was publishing ${file.publishing}; restoring ${to}, the last count it published`,
        );
        count = to;
        changed = true;
      } else if (!sealed && !live && count > 0 && isZero(u8, count - 1, rs)) {
        // The commit word is the one unchecksummed counter: a record of all
        // zero bytes at its end is unwritten space, not data.
        const n = lastNonZero(u8, count, rs);
        this.#find(
          "committed-beyond-data",
          `live chunk ${id} commits ${count} records but records ${n}..${
            count - 1
          } were never written; clamping to ${n}`,
        );
        count = n;
        changed = true;
      }
      plan.entry.committed = count;
      if (sealed) {
        const s = count > 0 && m ? scanTs(data, count, rs, this.#ctx.layout.tsOffset) : undefined;
        plan.entry.minTs = s?.min ?? 0;
        plan.entry.maxTs = s?.max ?? 0;
        plan.entry.lastTs = s?.last ?? 0;
        plan.entry.flags = FLAG.SEALED | (s && !s.sorted ? FLAG.OUT_OF_ORDER : 0);
      } else {
        const s = count > 0 && m ? scanTs(data, count, rs, this.#ctx.layout.tsOffset) : undefined;
        plan.entry.flags = s && !s.sorted ? FLAG.OUT_OF_ORDER : 0;
        plan.entry.lastTs = count; // the writer's copy of the commit word, while live
      }
    } finally {
      m?.close();
    }
    if (!entry) {
      this.#find(
        entryState === "checksum" ? "entry-checksum" : "entry-rebuilt",
        `chunk ${id}'s registry entry ${
          entryState === "checksum" ? "has a bad checksum" : "does not describe it"
        }; rebuilt from the chunk file (${count} records)`,
      );
      changed = true;
    } else if (
      !changed &&
      (entry.committed !== count || (entry.flags & ~FLAG.OUT_OF_ORDER) !==
          (plan.entry.flags & ~FLAG.OUT_OF_ORDER) ||
        (sealed && !sameBounds(entry, plan.entry)))
    ) {
      this.#find(
        "entry-checksum",
        `chunk ${id}'s registry entry disagrees with its data; recomputing`,
      );
      changed = true;
    }
    // The header's counts around the commit word must not contradict it: a
    // reader refuses a word above `publishing`, and repair would raise a word
    // below `liveCount`. Rewritten with the rest of the header, reported
    // alone only when nothing else about the chunk changed.
    const countsWrong = (file.publishing !== 0 && file.publishing < count) || copy > count;
    if (countsWrong && !changed && headerOk && file.capacity === capacity) {
      this.#find(
        "chunk-header-rebuilt",
        `chunk ${id}'s header counts (${file.publishing}, ${copy}) disagree with its ${count} committed records; rewriting them`,
      );
      plan.header = { capacity, sealedCount: sealed ? count : 0 };
      changed = true;
    } else if (countsWrong) plan.header = { capacity, sealedCount: sealed ? count : 0 };
    if (
      !headerOk || file.capacity !== capacity || file.sealedCount !== (sealed ? count : 0)
    ) {
      const wrong = !headerOk ? "is damaged" : "disagrees with its registry entry";
      this.#find(
        "chunk-header-rebuilt",
        `chunk ${id}'s header ${wrong}; rewriting it (capacity ${capacity}, ${count} records)`,
      );
      plan.header = { capacity, sealedCount: sealed ? count : 0 };
      changed = true;
    }
    if (file.size < need) {
      this.#find(
        "chunk-short",
        `chunk ${id}'s file is ${file.size} bytes; its ${capacity}-record capacity needs ${need}; extending with zeros`,
      );
      plan.extendTo = Math.ceil(need / PAGE) * PAGE;
      changed = true;
    }
    return changed ? plan : undefined;
  }

  /** Read-only mapping of a chunk's first `length` bytes, or undefined for an empty file. */
  #map(path: string, length: number): Mapping | undefined {
    if (length < CHUNK_HEADER) return undefined;
    return Mapping.file(path, { length });
  }

  /**
   * Chunk files outside `first..last`: the next chunk a writer prepared
   * (empty) is left alone; one an intact entry says retention deleted is
   * removed (an interrupted cleanup); anything else is quarantined.
   */
  #outside(
    entryOf: (id: number) => ChunkEntry | undefined,
    files: Map<number, FileEvidence>,
    first: number,
    last: number,
  ): { remove: FileEvidence[]; quarantine: [FileEvidence, string][] } {
    const out = { remove: [] as FileEvidence[], quarantine: [] as [FileEvidence, string][] };
    for (const [id, f] of [...files].sort((a, b) => a[0] - b[0])) {
      const e = entryOf(id);
      if (id >= first && id <= last && last !== 0 && !(e && e.flags & FLAG.DELETED)) continue;
      if (id === last + 1 && !f.holdsData) continue; // a writer's prepared next chunk
      if (e && e.flags & FLAG.DELETED && f.headerValid && id < last && this.#expired(e)) {
        this.#find(
          "cleanup-unfinished",
          `${name(f)}: retention deleted chunk ${id} but its file remains; removing it`,
        );
        out.remove.push(f);
        continue;
      }
      if (!f.ours && !f.blank) {
        this.#foreign(f);
        continue;
      }
      const why = f.holdsData
        ? `chunk ${id} holds data but lies outside the retained chunks ${first}..${last}`
        : `chunk ${id} lies outside the retained chunks ${first}..${last}`;
      this.#find("orphan-chunk", `${name(f)}: ${why}; moving it to quarantine`);
      out.quarantine.push([f, why]);
    }
    return out;
  }

  /**
   * Why the playback markers cannot be trusted (a damaged file, a count past
   * it, a newest marker past the data), or undefined when they can. Records
   * are never affected: markers only say where playback starts.
   */
  #markersProblem(
    reg: Registry,
    first: number,
    last: number,
    countOf: (id: number) => number = (id) => reg.committed(id),
  ): string | undefined {
    const path = this.#ctx.paths.markers(this.#ctx.name);
    const count = reg.markerCount();
    const st = lstat(path);
    let why: string | undefined;
    if (!st) {
      why = count > 0
        ? `the registry counts ${count} markers but markers.dwm is missing`
        : undefined;
    } else if (!st.isFile) {
      this.#find(
        "not-a-file",
        `markers.dwm is ${
          st.isSymlink ? "a symbolic link" : "not a regular file"
        }; left untouched: move it out of "${this.#dir}" (playback markers are then dropped)`,
        false,
      );
      return undefined;
    } else if (count > MARKER_CAPACITY) {
      why = `the registry counts ${count} markers, more than the file holds`;
    } else {
      try {
        const m = MarkerFile.open(path, false);
        try {
          const newest = count > 0 ? m.get(count - 1) : undefined;
          const retained = newest !== undefined && newest.chunk >= first &&
            newest.chunk <= last && !(reg.flags(newest.chunk) & FLAG.DELETED);
          if (newest && (newest.chunk > last || newest.chunk < 1)) {
            why =
              `the newest marker points at chunk ${newest.chunk}, past the data (${first}..${last})`;
          } else if (retained && newest.index > countOf(newest.chunk)) {
            why =
              `the newest marker points at record ${newest.index} of chunk ${newest.chunk}, past its ${
                countOf(newest.chunk)
              } records`;
          }
        } finally {
          m.close();
        }
      } catch (e) {
        if (!(e instanceof DeepwaterError)) throw e;
        why = e.message;
      }
    }
    if (why !== undefined) {
      this.#find(
        "markers-damaged",
        `${why}; moving markers.dwm to quarantine (playback starts at the live end until the next marker; no record is affected)`,
      );
    }
    return why;
  }

  #dropMarkers(reg: Registry, why: string): void {
    const path = this.#ctx.paths.markers(this.#ctx.name);
    if (lstat(path)?.isFile) this.#quarantine(path, why);
    reg.setMarkerCount(0);
  }

  /**
   * Markers the feed's marker file holds that point inside the rebuilt
   * chunks `..last` (0 when it has none or it is unreadable): markers are
   * written in order, so the count is the first one past the data.
   */
  #writtenMarkers(last: number): number {
    try {
      const m = MarkerFile.open(this.#ctx.paths.markers(this.#ctx.name), false);
      try {
        const n = m.written();
        let k = 0;
        while (k < n && m.get(k).chunk <= last) k++;
        return k;
      } finally {
        m.close();
      }
    } catch {
      return 0;
    }
  }

  #foreign(f: FileEvidence): void {
    this.#find(
      "foreign-file",
      `${
        name(f)
      } is named like a chunk but is not one of this feed's chunks; left untouched: move it out of "${this.#dir}"`,
      false,
    );
  }

  /** Past the feed's retention, as cleanup judges it (so removing it only finishes a cleanup). */
  #expired(e: ChunkEntry): boolean {
    const hours = this.#ctx.spec.retention_hours;
    return hours > 0 && e.maxTs < Date.now() * 1000 - hours * 3600e6;
  }

  #finishOutside(o: { remove: FileEvidence[]; quarantine: [FileEvidence, string][] }): void {
    for (const f of o.remove) removeQuietly(f.path);
    for (const [f, why] of o.quarantine) this.#quarantine(f.path, why);
  }

  #quarantine(path: string, why: string): void {
    const to = quarantine(this.#ctx.paths, this.#ctx.name, path, why);
    if (to) this.#report.quarantined.push(to);
  }

  /** Apply plans: files first, then entries; quarantine after the entry is deleted. */
  #apply(reg: Registry, plans: Map<number, Plan>): void {
    for (const [id, p] of plans) {
      const path = this.#ctx.paths.chunk(this.#ctx.name, id);
      // Quarantine before the entry says deleted: a repair killed in between
      // then finds a missing file (its data safe in quarantine), never a
      // deleted entry beside a file it might take for retention's leftover.
      if (p.quarantine) this.#quarantine(path, p.quarantine);
      else {
        if (p.extendTo !== undefined) Deno.truncateSync(path, p.extendTo);
        if (p.header) {
          this.#writeHeader(path, id, p.header.capacity, p.header.sealedCount, p.entry.committed);
        }
      }
      reg.rewriteEntry(p.entry);
    }
  }

  #writeHeader(
    path: string,
    id: number,
    capacity: number,
    sealedCount: number,
    count: number,
  ): void {
    using m = Mapping.file(path, { length: CHUNK_HEADER, write: true });
    const dv = new DataView(m.buffer);
    writeChunkHeader(dv, id, this.#rs, capacity, this.#ctx.layoutCrc);
    sealChunkHeader(dv, sealedCount);
    dv.setUint32(CHUNK_FIELDS.publishing, count, true);
    dv.setUint32(CHUNK_FIELDS.liveCount, count, true);
  }

  /**
   * The registry is missing or its header is damaged: build a new one from
   * the chunk files, complete under a temporary name, and rename it over.
   */
  #rebuild(files: Map<number, FileEvidence>, why: string): void {
    const ctx = this.#ctx;
    const ids = [...files.values()].filter((f) => f.ours && f.holdsData)
      .map((f) => f.id).sort((a, b) => a - b);
    const last = ids.at(-1) ?? 0;
    let first = ids[0] ?? 1;
    if (last - first >= REG_CAPACITY) first = last - REG_CAPACITY + 1;
    // A writer's prepared next chunk after the newest one stays where it is.
    const plans = new Map<number, Plan>();
    for (let id = first; id <= last && last !== 0; id++) {
      this.#report.chunksChecked++;
      this.#onProgress?.(id - first + 1, last - first + 1, ctx.name);
      const before = this.#report.findings.length;
      const plan = this.#plan(id, undefined, "absent", files.get(id), id === last, false);
      // Per-chunk findings are implied by the rebuild: keep only the ones that lose or move data.
      this.#report.findings.splice(
        before,
        this.#report.findings.length - before,
        ...this.#report.findings.slice(before).filter((f) =>
          f.kind === "chunk-corrupt" || f.kind === "committed-beyond-file" ||
          f.kind === "chunk-short"
        ),
      );
      plans.set(id, plan ?? { entry: deletedEntry(id, undefined) });
    }
    this.#find(
      "registry-rebuilt",
      `${why}; rebuilt from ${ids.length} chunk file(s) (chunks ${first}..${last})`,
    );
    const outside = this.#outside(() => undefined, files, first, last);
    if (this.#dryRun) return;
    const path = ctx.paths.registry(ctx.name);
    const old = lstat(path);
    if (old) this.#quarantine(path, why);
    for (const [id, p] of plans) {
      const file = ctx.paths.chunk(ctx.name, id);
      if (p.quarantine || !files.has(id)) continue;
      if (p.extendTo !== undefined) Deno.truncateSync(file, p.extendTo);
      if (p.header) {
        this.#writeHeader(file, id, p.header.capacity, p.header.sealedCount, p.entry.committed);
      }
    }
    Registry.create(path, {
      capacity: REG_CAPACITY,
      recordSize: ctx.layout.recordSize,
      tsOffset: ctx.layout.tsOffset,
      layoutCrc: ctx.layoutCrc,
      spec: JSON.stringify({
        spec: ctx.spec,
        descriptor: ctx.layout.descriptor,
        created: new Date().toISOString(),
      }),
      replace: true,
      fill: (reg) => {
        for (const p of plans.values()) reg.rewriteEntry(p.entry);
        reg.setMarkerCount(this.#writtenMarkers(last));
        if (last !== 0) {
          reg.setFirstChunk(first);
          reg.setLastChunk(last);
        }
      },
    });
    for (const [id, p] of plans) {
      if (p.quarantine) this.#quarantine(ctx.paths.chunk(ctx.name, id), p.quarantine);
    }
    this.#finishOutside(outside);
    // The markers are checked against the new registry in the same run.
    const reg = Registry.open(path, true);
    try {
      const why = this.#markersProblem(reg, first, last);
      if (why !== undefined) this.#dropMarkers(reg, why);
    } finally {
      reg.close();
    }
  }
}

/** Whether chunk `id`'s slot names it (its checksum may still fail). */
function entryNamesChunk(reg: Registry, id: number): boolean {
  return reg.entry(id).id === id;
}

/** Chunk `id`'s entry when it is intact (names the chunk; checksum valid once sealed). */
function intactEntry(reg: Registry, id: number): ChunkEntry | undefined {
  return reg.entryIntact(id) ? reg.entry(id) : undefined;
}

function deletedEntry(id: number, e: ChunkEntry | undefined): ChunkEntry {
  return {
    id,
    committed: e?.committed ?? 0,
    capacity: e?.capacity ?? 0,
    minTs: e?.minTs ?? 0,
    maxTs: e?.maxTs ?? 0,
    lastTs: e?.lastTs ?? 0,
    created: e?.created ?? Date.now() * 1000,
    flags: FLAG.SEALED | FLAG.DELETED,
    crc: 0,
  };
}

function sameBounds(a: ChunkEntry, b: ChunkEntry): boolean {
  return a.committed === 0 ||
    (a.minTs === b.minTs && a.maxTs === b.maxTs && a.lastTs === b.lastTs);
}

function isZero(u8: Uint8Array, index: number, rs: number): boolean {
  const o = CHUNK_HEADER + index * rs;
  for (let k = 0; k < rs; k++) if (u8[o + k] !== 0) return false;
  return true;
}

/** Records up to and including the last one with a non-zero byte, among the first `n`. */
function lastNonZero(u8: Uint8Array, n: number, rs: number): number {
  for (let i = n - 1; i >= 0; i--) if (!isZero(u8, i, rs)) return i + 1;
  return 0;
}

function name(f: FileEvidence): string {
  return f.path.slice(f.path.lastIndexOf("/") + 1);
}

function lstat(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}

function safeReadDir(dir: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
}
