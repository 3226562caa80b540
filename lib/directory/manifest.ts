/**
 * `manifest.json`: which package and on-disk format wrote a data directory.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { EACCES, EROFS } from "../native/errno.ts";
import { FileLock } from "../native/lock.ts";
import {
  publishFile,
  randomHex,
  readSmallFile,
  UnusableFileError,
  writeFileAtomic,
} from "../native/atomic_file.ts";
import { FORMAT_VERSION, PACKAGE_VERSION } from "../base/version.ts";

/** Contents of manifest.json. */
export interface Manifest {
  /** Package version that created the directory. */
  package_version: string;
  /** On-disk format version; must equal this build's FORMAT_VERSION. */
  format_version: number;
  /** Creation time, ISO-8601. */
  created: string;
  /**
   * 128 random bits (32 lowercase hex digits) naming this directory's
   * shared-memory rings (`/dw-<ring_id>-<feed>`), so two directories never
   * share a ring. Absent in manifests written before rings were named this
   * way; a writable Platform adds it on open.
   */
  ring_id?: string;
}

const RING_ID = /^[0-9a-f]{32}$/;

/**
 * What to do about a damaged manifest. deepwater-repair does not rewrite it:
 * the format version it records cannot be recovered from the other files.
 */
const REWRITE_MANIFEST =
  `run deepwater-repair, which writes a new one when every registry and chunk says format ${FORMAT_VERSION} (or restore it from a backup)`;

/**
 * Read and check a manifest.
 *
 * @param path manifest path
 * @returns the manifest, or undefined when the file does not exist
 */
export function readManifest(path: string): Manifest | undefined {
  let text: string;
  try {
    text = readManifestText(path);
  } catch (e) {
    if (e instanceof DeepwaterError) throw e;
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new DeepwaterError("IO", `Cannot read manifest "${path}": ${e}`, { path, cause: e });
  }
  let m: Manifest;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new DeepwaterError(
      "CORRUPT",
      `Manifest "${path}" is not valid JSON: ${REWRITE_MANIFEST}`,
      {
        path,
        cause: e,
      },
    );
  }
  if (typeof m?.format_version !== "number") {
    throw new DeepwaterError(
      "CORRUPT",
      `Manifest "${path}" has no format_version: ${REWRITE_MANIFEST}`,
      {
        path,
      },
    );
  }
  if (m.ring_id !== undefined && (typeof m.ring_id !== "string" || !RING_ID.test(m.ring_id))) {
    throw new DeepwaterError(
      "CORRUPT",
      `Manifest "${path}" has a malformed ring_id (expected 32 hex digits): remove the key and open the directory with write access to get a new one`,
      { path },
    );
  }
  if (m.format_version !== FORMAT_VERSION) {
    throw new DeepwaterError(
      "VERSION_MISMATCH",
      `Data at "${path}" has format version ${m.format_version} (written by Deepwater ${m.package_version}); this is Deepwater ${PACKAGE_VERSION}, which reads format ${FORMAT_VERSION}: use a matching Deepwater version, or move the data aside and start a new directory (if the data itself is format ${FORMAT_VERSION} and only the manifest was damaged, deepwater-repair rewrites it)`,
      { path },
    );
  }
  return m;
}

/**
 * Read the manifest, creating it (atomically) if missing, and give it a
 * `ring_id` if it has none.
 *
 * @param path manifest path
 * @param lockPath lock file serialising the ring_id upgrade between processes
 * @returns the manifest in force (without `ring_id` only when it could not be written);
 *   throws `IO` (the system error as `cause`) when it cannot be created
 */
export function ensureManifest(path: string, lockPath: string): Manifest {
  const existing = readManifest(path);
  if (existing) return existing.ring_id ? existing : addRingId(path, lockPath);
  const m: Manifest = {
    package_version: PACKAGE_VERSION,
    format_version: FORMAT_VERSION,
    created: new Date().toISOString(),
    ring_id: randomHex(),
  };
  try {
    // Linked, never renamed: another process that won the race keeps its
    // manifest (and its ring_id). Not synced: a manifest lost to a power loss
    // is created again by the next open, and only rings (gone after a power
    // loss too) depend on its ring_id.
    publishFile(
      path,
      (tmp) => Deno.writeTextFileSync(tmp, JSON.stringify(m, null, 2) + "\n", { createNew: true }),
      { sync: false, replace: false },
    );
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return readManifest(path)!;
    throw new DeepwaterError(
      "IO",
      `Cannot create manifest "${path}": ${e instanceof Error ? e.message : e}`,
      { path, cause: e },
    );
  }
  return readManifest(path)!;
}

/**
 * Read the manifest of a directory opened read-only, which cannot create one.
 *
 * @param path manifest path
 * @param base the data directory, for the message
 * @returns the manifest; throws `READ_ONLY` when it is missing
 */
export function requireManifest(path: string, base: string): Manifest {
  const m = readManifest(path);
  if (m) return m;
  throw new DeepwaterError(
    "READ_ONLY",
    `Cannot open "${base}" read-only: "${path}" is missing, so it is not a Deepwater data directory (yet): check the path, or open it once with write access to create it`,
    { path },
  );
}

/**
 * Add a ring_id to a manifest written before it existed. Under an exclusive
 * lock the manifest is read again, so concurrent openers all end up with
 * the one id the first of them wrote. Without write access the manifest is
 * returned as it is (its ring feeds then cannot be used).
 */
function addRingId(path: string, lockPath: string): Manifest {
  let lock: FileLock;
  try {
    lock = FileLock.acquire(lockPath, { wait: true, action: "Cannot lock" });
  } catch (e) {
    const errno = e instanceof DeepwaterError ? e.errno : undefined;
    if (errno === EACCES || errno === EROFS) return readManifest(path)!; // read-only use
    throw e;
  }
  try {
    const m = readManifest(path)!;
    if (m.ring_id) return m;
    const next: Manifest = { ...m, ring_id: randomHex() };
    try {
      writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(next, null, 2) + "\n"), {
        sync: true,
      });
    } catch (e) {
      const cause = e instanceof DeepwaterError ? e.cause : undefined;
      if (
        cause instanceof Deno.errors.PermissionDenied ||
        cause instanceof Deno.errors.NotCapable
      ) return m;
      throw e;
    }
    return next;
  } finally {
    lock.close();
  }
}

/** The manifest's text: bounded, never through a link. */
function readManifestText(path: string): string {
  try {
    return readSmallFile(path);
  } catch (e) {
    if (!(e instanceof UnusableFileError)) throw e;
    throw new DeepwaterError(
      "CORRUPT",
      `Manifest "${path}" is unusable: ${e.message}: ${REWRITE_MANIFEST}`,
      {
        path,
      },
    );
  }
}
