/**
 * Publish a file atomically (readers see the old content or the new, never a
 * mix) without following links planted beside it. Every write-temp-then-rename
 * in Deepwater goes through here, each caller stating whether the result must
 * survive a power loss (`sync`); a process crash is safe either way.
 *
 * The temporary file is `<path>.tmp-<128 random bits in hex>`, created
 * exclusively (O_CREAT|O_EXCL, which never follows a symbolic link at the
 * final component), so another user cannot pre-create or link that name to
 * redirect the write. `rename` then replaces `path` itself, even when
 * `path` is a link: the link is replaced, its target is never written.
 *
 * @module
 */
import { dirname } from "node:path";
import { DeepwaterError } from "../base/errors.ts";

/** How {@linkcode publishFile} puts a finished temporary file in place. */
export interface PublishOptions {
  /**
   * fsync the file before it is put in place and the directory after, so
   * it survives a power loss. Every caller chooses: there is no default.
   */
  sync: boolean;
  /**
   * true: rename over whatever is at the path. false: link, so an existing
   * file is never replaced (the call throws `Deno.errors.AlreadyExists`).
   */
  replace: boolean;
}

/**
 * Build a file under a fresh temporary name beside `path` and publish it
 * there in one step. `build` creates the temporary file exclusively (O_EXCL:
 * `createNew`, or a mapping created with `exclusive`), fills it and closes
 * it; then it is synced when asked and renamed (or linked) into place. The
 * temporary name is gone afterwards, whatever happened.
 *
 * @param path the file to publish
 * @param build creates, fills and closes the temporary file it is given
 * @param options `sync` and `replace`, both explicit
 * @throws whatever `build` throws, the system error of a failed sync, rename
 *   or link (`AlreadyExists` when `replace` is false and `path` exists)
 *
 * @example
 * ```ts
 * import { publishFile } from "./atomic_file.ts";
 * const dir = Deno.makeTempDirSync();
 * publishFile(`${dir}/a.txt`, (tmp) => Deno.writeTextFileSync(tmp, "a", { createNew: true }), {
 *   sync: false,
 *   replace: false,
 * });
 * console.assert(Deno.readTextFileSync(`${dir}/a.txt`) === "a");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function publishFile(
  path: string,
  build: (tmp: string) => void,
  options: PublishOptions,
): void {
  const tmp = `${path}.tmp-${randomHex()}`;
  let placed = false;
  try {
    build(tmp);
    if (options.sync) syncPath(tmp);
    if (options.replace) Deno.renameSync(tmp, path);
    else Deno.linkSync(tmp, path);
    placed = true;
    if (options.sync) syncPath(dirname(path));
  } finally {
    // A link leaves the temporary name behind; a rename that happened took it.
    if (!placed || !options.replace) removeQuietly(tmp);
  }
}

/** Options for {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Survive a power loss (see {@linkcode PublishOptions.sync}); no default. */
  sync: boolean;
  /** Permission bits of the new file (default 0o644). */
  mode?: number;
}

/**
 * Replace (or create) the small file `path` with `bytes` atomically through
 * {@linkcode publishFile}.
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
  try {
    publishFile(path, (tmp) => {
      using file = Deno.openSync(tmp, {
        write: true,
        createNew: true,
        mode: options.mode ?? 0o644,
      });
      let done = 0;
      while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
    }, { sync: options.sync, replace: true });
  } catch (e) {
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

/** fsync a file or directory by path (a read-only descriptor is enough on Linux). */
function syncPath(path: string): void {
  using f = Deno.openSync(path, { read: true });
  f.syncSync();
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
