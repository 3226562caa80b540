/**
 * Replace a small file atomically without following links planted beside it.
 *
 * The temporary file is `<path>.tmp-<128 random bits in hex>`, created with
 * `createNew` (O_CREAT|O_EXCL, which never follows a symbolic link at the
 * final component), so another user cannot pre-create or link that name to
 * redirect the write. `rename` then replaces `path` itself, even when
 * `path` is a link: the link is replaced, its target is never written.
 *
 * @module
 */
import { dirname } from "node:path";
import { DeepwaterError } from "../base/errors.ts";

/** Options for {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /**
   * fsync the file before the rename and the directory after it, so the
   * new content survives a power loss (default false: a process crash is
   * already safe without it).
   */
  sync: boolean;
  /** Permission bits of the new file (default 0o644). */
  mode?: number;
}

/**
 * Write `bytes` to `path` atomically: readers see the old content or the
 * new, never a mix, and nothing is written through a symbolic link.
 *
 * @param path file to replace (or create)
 * @param bytes its new content
 * @param options `sync` for power-loss durability, `mode` for permissions
 * @throws {DeepwaterError} `IO` naming the path when any step fails (the
 *   temporary file is removed)
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic_file.ts";
 * const dir = Deno.makeTempDirSync();
 * writeFileAtomic(`${dir}/state.json`, new TextEncoder().encode("{}\n"), { sync: true });
 * console.assert(Deno.readTextFileSync(`${dir}/state.json`) === "{}\n");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: AtomicWriteOptions,
): void {
  const tmp = `${path}.tmp-${randomHex()}`;
  let created = false;
  try {
    const file = Deno.openSync(tmp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
    created = true;
    try {
      let done = 0;
      while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
      if (options.sync) file.syncSync();
    } finally {
      file.close();
    }
    Deno.renameSync(tmp, path);
    created = false;
    if (options.sync) syncDir(dirname(path));
  } catch (e) {
    if (created) removeQuietly(tmp);
    throw new DeepwaterError("IO", `Cannot write "${path}" atomically: ${e}`, {
      path,
      cause: e,
    });
  }
}

/**
 * Read a small metadata file written whole (a manifest, a spec copy, a note)
 * without following a link and without reading more than `max` bytes, so a
 * link to an endless file can neither hang nor exhaust memory.
 *
 * @param path the file
 * @param max the most bytes such a file holds
 * @returns its text; throws `NotFound` when missing, and
 *   {@linkcode UnusableFileError} when it is a link, not a regular file, or too long
 */
export function readSmallFile(path: string, max = 64 * 1024): string {
  const st = Deno.lstatSync(path);
  if (st.isSymlink) {
    throw new UnusableFileError("it is a symbolic link, which Deepwater does not follow");
  }
  if (!st.isFile) throw new UnusableFileError("it is not a regular file");
  if (st.size > max) {
    throw new UnusableFileError(`${st.size} bytes is more than such a file holds`);
  }
  return Deno.readTextFileSync(path);
}

/** What {@linkcode readSmallFile} throws for a file it will not read; callers name the file. */
export class UnusableFileError extends Error {}

/** 128 random bits as 32 hex digits: a temp name no other user can predict. */
export function randomHex(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function syncDir(dir: string): void {
  const d = Deno.openSync(dir, { read: true });
  try {
    d.syncSync();
  } finally {
    d.close();
  }
}

/**
 * Remove a file if it is there (a temporary file, or one being given up).
 *
 * @param path the file
 */
export function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // already gone
  }
}
