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
import { crc32c, cstr, native, unwrap } from "./ffi.ts";
import { DeepwaterError } from "./errors.ts";
import type { NormalizedSpec } from "./spec.ts";
import { FORMAT_VERSION } from "./version.ts";

/** Catalog magic (0x44574354). */
export const CATALOG_MAGIC = 0x44574354;
const HEADER = 64;
const ENTRY = 16384;

/** One feed as the catalog records it. */
export interface CatalogEntry {
  /** Normalised spec (lifecycle knobs as last applied). */
  spec: NormalizedSpec;
  /** Layout descriptor (what SCHEMA_DRIFT compares). */
  descriptor: string;
  /** Creation time, ISO-8601. */
  created: string;
}

function corrupt(path: string, why: string): DeepwaterError {
  return new DeepwaterError(
    "CORRUPT",
    `Catalog "${path}" is corrupt: ${why}: run deepwater-repair`,
    { path },
  );
}

/**
 * Parse catalog bytes, verifying every checksum.
 *
 * @param bytes file contents
 * @param path for messages
 * @returns the entries
 */
export function decodeCatalog(bytes: Uint8Array<ArrayBuffer>, path: string): CatalogEntry[] {
  if (bytes.length < HEADER) throw corrupt(path, "shorter than its header");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== CATALOG_MAGIC) throw corrupt(path, "bad magic number");
  const version = dv.getUint32(4, true);
  if (version !== FORMAT_VERSION) {
    throw new DeepwaterError(
      "VERSION_MISMATCH",
      `Catalog "${path}" has format version ${version}; this Deepwater reads ${FORMAT_VERSION}: use the matching Deepwater version`,
      { path },
    );
  }
  if (crc32c(bytes.slice(0, 24)) !== dv.getUint32(24, true)) {
    throw corrupt(path, "header checksum mismatch");
  }
  if (dv.getUint32(8, true) !== HEADER || dv.getUint32(12, true) !== ENTRY) {
    throw corrupt(path, "unexpected sizes");
  }
  const count = Number(dv.getBigUint64(16, true));
  if (bytes.length !== HEADER + count * ENTRY) {
    throw corrupt(path, `${bytes.length} bytes for ${count} entries`);
  }
  const out: CatalogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = HEADER + i * ENTRY;
    const len = dv.getUint32(o + 4, true);
    if (len > ENTRY - 8) throw corrupt(path, `entry ${i} length ${len}`);
    if (crc32c(bytes.slice(o + 4, o + ENTRY)) !== dv.getUint32(o, true)) {
      throw corrupt(path, `entry ${i} checksum mismatch`);
    }
    try {
      out.push(JSON.parse(new TextDecoder().decode(bytes.subarray(o + 8, o + 8 + len))));
    } catch (e) {
      throw corrupt(path, `entry ${i} is not valid JSON (${e})`);
    }
  }
  return out;
}

/**
 * Serialise entries into catalog bytes.
 *
 * @param entries entries in order
 * @returns file contents
 */
export function encodeCatalog(entries: CatalogEntry[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(HEADER + entries.length * ENTRY);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, CATALOG_MAGIC, true);
  dv.setUint32(4, FORMAT_VERSION, true);
  dv.setUint32(8, HEADER, true);
  dv.setUint32(12, ENTRY, true);
  dv.setBigUint64(16, BigInt(entries.length), true);
  dv.setUint32(24, crc32c(bytes.slice(0, 24)), true);
  entries.forEach((e, i) => {
    const json = new TextEncoder().encode(JSON.stringify(e));
    if (json.length > ENTRY - 8) {
      throw new DeepwaterError(
        "INVALID_SPEC",
        `Invalid feed spec: "${e.spec.feed_name}" serialises to ${json.length} bytes; the catalog holds ${
          ENTRY - 8
        } per feed (shorten field descriptions)`,
      );
    }
    const o = HEADER + i * ENTRY;
    dv.setUint32(o + 4, json.length, true);
    bytes.set(json, o + 8);
    dv.setUint32(o, crc32c(bytes.slice(o + 4, o + ENTRY)), true);
  });
  return bytes;
}

/** Read access to, and locked updates of, one base path's catalog. */
export class Catalog {
  /** catalog.dwc path. */
  readonly path: string;
  /** catalog.lock path. */
  readonly lockPath: string;

  /**
   * @param path catalog file
   * @param lockPath lock file
   */
  constructor(path: string, lockPath: string) {
    this.path = path;
    this.lockPath = lockPath;
  }

  /** All entries (an empty list when the file does not exist yet). */
  read(): CatalogEntry[] {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = Deno.readFileSync(this.path) as Uint8Array<ArrayBuffer>;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw new DeepwaterError("IO", `Cannot read catalog "${this.path}": ${e}`, {
        path: this.path,
        cause: e,
      });
    }
    return decodeCatalog(bytes, this.path);
  }

  /**
   * Run `fn` under the exclusive catalog lock with the current entries; if it
   * returns a new list, write it atomically before the lock is released.
   *
   * @param fn receives the current entries; returns new entries or undefined
   * @returns whatever `fn` produced as its second tuple element
   */
  update<T>(fn: (entries: CatalogEntry[]) => [CatalogEntry[] | undefined, T]): T {
    return this.#locked(() => {
      const [next, result] = fn(this.read());
      if (next) this.#write(next);
      return result;
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
    const fd = new Int32Array(1);
    unwrap(
      native().dw_lock_open(cstr(this.lockPath), 1, 0, fd),
      "Cannot lock catalog",
      this.lockPath,
    );
    try {
      return fn();
    } finally {
      native().dw_lock_close(fd[0]!);
    }
  }

  /** Write a complete new file under a temporary name, fsync, rename. */
  #write(entries: CatalogEntry[]): void {
    const tmp = `${this.path}.tmp-${Deno.pid}`;
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    try {
      const bytes = encodeCatalog(entries);
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, this.path);
  }
}
