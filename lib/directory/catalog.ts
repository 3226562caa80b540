/**
 * The global feed catalog, `catalog.dwc`: a binary, header-checked file of
 * fixed-size entries, each carrying a CRC32C over its JSON spec.
 *
 * ```
 * header (64 bytes): u32 magic "DWCT", u32 format, u32 header size,
 *                    u32 entry size, u64 entry count, u32 CRC32C(bytes 0..24)
 * entry (16 KiB):    u32 CRC32C(bytes 4..end), u32 JSON length, JSON, zeros
 * ```
 *
 * Updates take an exclusive flock on `catalog.lock`, write a complete new
 * file under a temporary name, fsync it and rename it over the old one, so
 * readers (which take no lock) always see one whole, consistent catalog, and
 * concurrent `createFeed` calls from many processes serialise.
 *
 * @module
 */
import { crc32c } from "../native/checksum.ts";
import { FileLock } from "../native/lock.ts";
import { DeepwaterError } from "../base/errors.ts";
import { FORMAT_VERSION } from "../base/version.ts";
import { checkHeader } from "../schema/header.ts";
import { computeLayout, type NormalizedSpec, normalizeSpec } from "../schema/spec.ts";
import { writeFileAtomic } from "../native/atomic_file.ts";

/** Catalog magic (0x44574354). */
const CATALOG_MAGIC = 0x44574354;
const HEADER = 64;
const ENTRY = 16384;

/**
 * The catalog header. Written whole by a rewrite (temporary file, renamed
 * in); an append stores it again in place after the new entry is synced.
 */
export const CATALOG_FIELDS = {
  /** u32 "DWCT". */
  magic: 0,
  /** u32 format version. */
  version: 4,
  /** u32 header size (64). */
  headerSize: 8,
  /** u32 entry size (16384). */
  entrySize: 12,
  /** u64 entries in use; an append stores it after the entry it counts is synced. */
  count: 16,
  /** u32 CRC32C of bytes 0..24, stored with every header. */
  headerCrc: 24,
} as const;
const CF = CATALOG_FIELDS;

/** A catalog entry (16 KiB), written whole before the header counts it. */
const CATALOG_ENTRY_FIELDS = {
  /** u32 CRC32C of bytes 4..16384 (length, JSON and the zero padding). */
  crc: 0,
  /** u32 JSON length in bytes. */
  length: 4,
  /** The entry as UTF-8 JSON, then zeros. */
  json: 8,
} as const;

/** One feed as the catalog records it. */
export interface CatalogEntry {
  /** Normalised spec (lifecycle knobs as last applied). */
  spec: NormalizedSpec;
  /** Layout descriptor (what SCHEMA_DRIFT compares). */
  descriptor: string;
  /** Creation time, ISO-8601. */
  created: string;
}

/** Largest catalog read (65,536 feeds): a bound, so a link to an endless file cannot exhaust memory. */
const MAX_BYTES = HEADER + 65536 * ENTRY;
/** Header reads retried when a concurrent append's header store is seen half-done. */
const HEADER_RETRIES = 5;

function corrupt(path: string, why: string): DeepwaterError {
  return new DeepwaterError(
    "CORRUPT",
    `Catalog "${path}" is corrupt: ${why}: run deepwater-repair`,
    { path },
  );
}

/** The entry count a header holds (after its checks). */
function headerCount(bytes: Uint8Array<ArrayBuffer>, path: string): number {
  const dv = checkHeader(bytes, {
    magic: CATALOG_MAGIC,
    headerSize: HEADER,
    what: "Catalog",
    path,
    fix: "run deepwater-repair",
    checksumAt: CF.headerCrc,
  });
  if (dv.getUint32(CF.entrySize, true) !== ENTRY) throw corrupt(path, "unexpected entry size");
  return Number(dv.getBigUint64(CF.count, true));
}

/**
 * Check a catalog entry's shape and contents: its spec must pass the same
 * validation `createFeed` applies (so a forged `feed_name` can never become
 * a path), and its descriptor must be the one that spec gives.
 *
 * @param raw the parsed JSON of an entry
 * @returns the entry with its spec normalised; throws `INVALID_SPEC` or
 *   `CORRUPT` describing what is wrong
 */
export function validateEntry(raw: unknown): CatalogEntry {
  const e = raw as Partial<CatalogEntry> | null;
  if (typeof e !== "object" || e === null || Array.isArray(e)) {
    throw new DeepwaterError("CORRUPT", "it is not an object");
  }
  if (typeof e.descriptor !== "string" || typeof e.created !== "string") {
    throw new DeepwaterError("CORRUPT", "its descriptor or creation time is missing");
  }
  const spec = normalizeSpec(e.spec);
  const descriptor = computeLayout(spec).descriptor;
  if (descriptor !== e.descriptor) {
    throw new DeepwaterError("CORRUPT", "its layout descriptor does not match its spec");
  }
  return { spec, descriptor, created: e.created };
}

/** Entry `i` (validated), or why it is unusable. */
function entryAt(bytes: Uint8Array<ArrayBuffer>, i: number): CatalogEntry | string {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const o = HEADER + i * ENTRY;
  const len = dv.getUint32(o + CATALOG_ENTRY_FIELDS.length, true);
  if (len > ENTRY - 8) return `entry ${i} length ${len}`;
  if (
    crc32c(bytes.slice(o + CATALOG_ENTRY_FIELDS.length, o + ENTRY)) !==
      dv.getUint32(o + CATALOG_ENTRY_FIELDS.crc, true)
  ) {
    return `entry ${i} checksum mismatch`;
  }
  try {
    const at = o + CATALOG_ENTRY_FIELDS.json;
    return validateEntry(JSON.parse(new TextDecoder().decode(bytes.subarray(at, at + len))));
  } catch (e) {
    return `entry ${i} is not a valid feed entry (${e instanceof Error ? e.message : e})`;
  }
}

/**
 * Parse catalog bytes, verifying every checksum. Bytes past the counted
 * entries (an append in progress) are ignored.
 *
 * @param bytes file contents
 * @param path for messages
 * @returns the entries
 */
function decodeCatalog(bytes: Uint8Array<ArrayBuffer>, path: string): CatalogEntry[] {
  const count = headerCount(bytes, path);
  if (count > (bytes.length - HEADER) / ENTRY) {
    throw corrupt(path, `${bytes.length} bytes for ${count} entries`);
  }
  const out: CatalogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const e = entryAt(bytes, i);
    if (typeof e === "string") throw corrupt(path, e);
    out.push(e);
  }
  return out;
}

/**
 * Every entry of a damaged catalog that still passes its own checksum,
 * whatever its header says (repair's salvage before a rebuild).
 *
 * @param path catalog file
 * @returns the intact entries, in file order (none when unreadable)
 */
export function salvageCatalog(path: string): CatalogEntry[] {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = readBounded(path);
  } catch {
    return [];
  }
  const out: CatalogEntry[] = [];
  const names = new Set<string>();
  for (let i = 0; HEADER + (i + 1) * ENTRY <= bytes.length; i++) {
    const e = entryAt(bytes, i);
    if (typeof e === "object" && !names.has(e.spec.feed_name)) {
      names.add(e.spec.feed_name);
      out.push(e);
    }
  }
  return out;
}

/** The catalog header for `count` entries. */
function encodeHeader(count: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(HEADER);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(CF.magic, CATALOG_MAGIC, true);
  dv.setUint32(CF.version, FORMAT_VERSION, true);
  dv.setUint32(CF.headerSize, HEADER, true);
  dv.setUint32(CF.entrySize, ENTRY, true);
  dv.setBigUint64(CF.count, BigInt(count), true);
  dv.setUint32(CF.headerCrc, crc32c(bytes.slice(0, CF.headerCrc)), true);
  return bytes;
}

/** One entry's bytes (checksum, length, JSON, zeros). */
function encodeEntry(e: CatalogEntry): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(ENTRY);
  const json = new TextEncoder().encode(JSON.stringify(e));
  if (json.length > ENTRY - 8) {
    throw new DeepwaterError(
      "INVALID_SPEC",
      `Invalid feed spec: "${e.spec.feed_name}" serialises to ${json.length} bytes; the catalog holds ${
        ENTRY - 8
      } per feed (shorten field descriptions)`,
    );
  }
  const dv = new DataView(bytes.buffer);
  dv.setUint32(CATALOG_ENTRY_FIELDS.length, json.length, true);
  bytes.set(json, CATALOG_ENTRY_FIELDS.json);
  dv.setUint32(
    CATALOG_ENTRY_FIELDS.crc,
    crc32c(bytes.slice(CATALOG_ENTRY_FIELDS.length)),
    true,
  );
  return bytes;
}

/**
 * Serialise entries into catalog bytes.
 *
 * @param entries entries in order
 * @returns file contents
 */
export function encodeCatalog(entries: CatalogEntry[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(HEADER + entries.length * ENTRY);
  bytes.set(encodeHeader(entries.length), 0);
  entries.forEach((e, i) => bytes.set(encodeEntry(e), HEADER + i * ENTRY));
  return bytes;
}

/**
 * Read a regular file (never through a link) of at most {@linkcode MAX_BYTES}.
 * Throws `NotFound` when it does not exist.
 */
function readBounded(path: string): Uint8Array<ArrayBuffer> {
  const st = Deno.lstatSync(path);
  if (!st.isFile) {
    throw corrupt(
      path,
      st.isSymlink
        ? "it is a symbolic link, which Deepwater does not follow inside its data directory"
        : "it is not a regular file",
    );
  }
  if (st.size > MAX_BYTES) throw corrupt(path, `${st.size} bytes is more than any catalog holds`);
  using f = Deno.openSync(path, { read: true });
  const bytes = new Uint8Array(st.size);
  let off = 0;
  while (off < bytes.length) {
    const n = f.readSync(bytes.subarray(off));
    if (n === null || n === 0) break;
    off += n;
  }
  return off === bytes.length ? bytes : bytes.slice(0, off);
}

/** What identifies one version of the catalog file. */
function fileKey(st: Deno.FileInfo): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtime?.getTime()}:${st.ctime?.getTime()}`;
}

/** A change {@linkcode Catalog.update} applies under the lock. */
export interface CatalogChange<T> {
  /** What `update` returns. */
  result: T;
  /** A new feed to add at the end (an O(1) append). */
  append?: CatalogEntry;
  /** A whole new list (a rewrite, for changed entries). */
  replace?: CatalogEntry[];
}

/**
 * Read access to, and locked updates of, one base path's catalog.
 *
 * Reads are cached and revalidated with one `lstat` (the file's identity,
 * size and times), so looking a feed up costs the same with 1,000 feeds as
 * with one. A new feed is appended in place: its entry is written and synced
 * past the counted ones, then the header's count (with its checksum) is
 * stored. A reader that sees the header half-stored retries the read.
 * Changing an existing entry rewrites the whole file under a temporary name
 * and renames it over, so readers (which take no lock) always see one whole,
 * consistent catalog.
 */
export class Catalog {
  /** catalog.dwc path. */
  readonly path: string;
  /** catalog.lock path. */
  readonly lockPath: string;
  #cache: { key: string; entries: CatalogEntry[]; byName: Map<string, CatalogEntry> } | undefined;

  /**
   * @param path catalog file
   * @param lockPath lock file
   */
  constructor(path: string, lockPath: string) {
    this.path = path;
    this.lockPath = lockPath;
  }

  /** Whether the catalog file exists (as anything). */
  exists(): boolean {
    try {
      Deno.lstatSync(this.path);
      return true;
    } catch {
      return false;
    }
  }

  /** All entries (an empty list when the file does not exist yet). Do not modify the result. */
  read(): readonly CatalogEntry[] {
    return this.#load().entries;
  }

  /**
   * One feed's entry, or undefined.
   *
   * @param name feed name
   * @returns the entry
   */
  get(name: string): CatalogEntry | undefined {
    return this.#load().byName.get(name);
  }

  #load(): { entries: CatalogEntry[]; byName: Map<string, CatalogEntry> } {
    for (let attempt = 0;; attempt++) {
      let st: Deno.FileInfo;
      try {
        st = Deno.lstatSync(this.path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return { entries: [], byName: new Map() };
        throw this.#ioError(e);
      }
      const key = fileKey(st);
      if (this.#cache?.key === key) return this.#cache;
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = readBounded(this.path);
      } catch (e) {
        if (e instanceof DeepwaterError) throw e;
        if (e instanceof Deno.errors.NotFound) continue; // replaced between lstat and open
        throw this.#ioError(e);
      }
      let entries: CatalogEntry[];
      try {
        entries = decodeCatalog(bytes, this.path);
      } catch (e) {
        // An append's header store seen half-done reads as a checksum
        // mismatch: look again before calling the file corrupt.
        if (attempt < HEADER_RETRIES && e instanceof DeepwaterError && e.code === "CORRUPT") {
          sleepMs(2);
          continue;
        }
        throw e;
      }
      const byName = new Map(entries.map((e) => [e.spec.feed_name, e]));
      this.#cache = { key, entries, byName };
      return this.#cache;
    }
  }

  #ioError(e: unknown): DeepwaterError {
    return new DeepwaterError("IO", `Cannot read catalog "${this.path}": ${e}`, {
      path: this.path,
      cause: e,
    });
  }

  /**
   * Run `fn` under the exclusive catalog lock with the current entries, and
   * apply the change it returns before the lock is released.
   *
   * @param fn receives the current entries; returns the change and a result
   * @returns the change's result
   */
  update<T>(fn: (entries: readonly CatalogEntry[]) => CatalogChange<T>): T {
    return this.#locked(() => {
      const entries = this.read();
      const change = fn(entries);
      if (change.replace) this.#write(change.replace);
      else if (change.append) {
        if (entries.length === 0 && !this.exists()) this.#write([change.append]);
        else this.#append(entries.length, change.append);
      }
      return change.result;
    });
  }

  /**
   * Replace the whole catalog under the lock without reading it first (repair
   * rebuilding a catalog that no longer parses).
   *
   * @param entries the new entries
   */
  rewrite(entries: CatalogEntry[]): void {
    this.#locked(() => this.#write(entries));
  }

  #locked<T>(fn: () => T): T {
    using _lock = FileLock.acquire(this.lockPath, { wait: true, action: "Cannot lock catalog" });
    return fn();
  }

  /** Entry first (synced), then the count that makes it visible (synced). */
  #append(count: number, entry: CatalogEntry): void {
    const bytes = encodeEntry(entry);
    if (!Deno.lstatSync(this.path).isFile) throw corrupt(this.path, "it is not a regular file");
    {
      using f = Deno.openSync(this.path, { read: true, write: true });
      writeAt(f, HEADER + count * ENTRY, bytes);
      f.syncDataSync();
      writeAt(f, 0, encodeHeader(count + 1));
      f.syncDataSync();
    }
    // We hold the lock, so nobody else changed the file: extend the cache
    // instead of re-reading every entry.
    const cached = this.#cache;
    if (cached?.entries.length === count) {
      const entries = [...cached.entries, entry];
      const byName = new Map(cached.byName).set(entry.spec.feed_name, entry);
      this.#cache = { key: fileKey(Deno.lstatSync(this.path)), entries, byName };
    }
  }

  /** Write a complete new file under an unpredictable temporary name, sync, rename. */
  #write(entries: CatalogEntry[]): void {
    writeFileAtomic(this.path, encodeCatalog(entries), { sync: true });
  }
}

function writeAt(f: Deno.FsFile, at: number, bytes: Uint8Array): void {
  f.seekSync(at, Deno.SeekMode.Start);
  let off = 0;
  while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
