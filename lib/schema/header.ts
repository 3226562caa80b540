/**
 * What every Deepwater binary file starts with, and the one check it passes
 * before any other field is read: u32 magic, u32 format version, u32 header
 * size (little-endian), optionally a header checksum. Also the u64 helpers
 * the formats share. The per-file layouts live with their owners
 * (`chunks/format.ts`, `ring/format.ts`, `chunks/markers.ts`,
 * `directory/catalog.ts`).
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { FORMAT_VERSION } from "../base/version.ts";
import { crc32c } from "../native/checksum.ts";

/** Page size files are rounded to. */
export const PAGE = 4096;

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

/** What {@linkcode checkHeader} checks a file's first bytes against. */
export interface HeaderRule {
  /** The file type's magic number. */
  magic: number;
  /** The header size the format fixes for this file type. */
  headerSize: number;
  /** What the file is, for messages ("Registry", "Chunk 3 of \"trades\""). */
  what: string;
  /** File path, for messages. */
  path: string;
  /** What to tell the user to do when the header is bad. */
  fix: string;
  /**
   * A CRC32C over bytes `0..at`, stored at `at`: checked before the version,
   * so a damaged version word is `CORRUPT` (the checksum says so), and only
   * an intact header from another format is `VERSION_MISMATCH`.
   */
  checksumAt?: number;
}

/**
 * The one header check every Deepwater binary file passes before any other
 * field is read: long enough for its header, the right magic, this build's
 * format version, and the header size the format fixes.
 *
 * @param bytes the file's bytes (or a mapping of them)
 * @param rule what this file type must hold
 * @returns a DataView over the bytes; throws `CORRUPT` or `VERSION_MISMATCH`
 */
export function checkHeader(bytes: ArrayBuffer | Uint8Array, rule: HeaderRule): DataView {
  const dv = bytes instanceof Uint8Array
    ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new DataView(bytes);
  const fail = (why: string) =>
    new DeepwaterError("CORRUPT", `${rule.what} "${rule.path}" is corrupt: ${why}: ${rule.fix}`, {
      path: rule.path,
    });
  if (dv.byteLength < Math.max(rule.headerSize, 12)) {
    throw fail(`${dv.byteLength} bytes is shorter than its ${rule.headerSize}-byte header`);
  }
  if (dv.getUint32(0, true) !== rule.magic) throw fail("bad magic number");
  if (rule.checksumAt !== undefined) {
    const u8 = new Uint8Array(dv.buffer, dv.byteOffset, rule.checksumAt).slice();
    if (crc32c(u8) !== dv.getUint32(rule.checksumAt, true)) {
      throw fail("header checksum mismatch");
    }
  }
  const version = dv.getUint32(4, true);
  if (version !== FORMAT_VERSION) {
    throw new DeepwaterError(
      "VERSION_MISMATCH",
      `${rule.what} "${rule.path}" has format version ${version}; this Deepwater reads format ${FORMAT_VERSION}: use the matching Deepwater version`,
      { path: rule.path },
    );
  }
  const headerSize = dv.getUint32(8, true);
  if (headerSize !== rule.headerSize) {
    throw fail(`header size ${headerSize}, expected ${rule.headerSize}`);
  }
  return dv;
}
