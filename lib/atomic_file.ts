/**
 * Replace a file atomically: write a complete new copy under an
 * unpredictable temporary name, created exclusively (O_CREAT|O_EXCL never
 * follows a link planted at that name), optionally sync it, and rename it
 * over the old one, so readers see the old file or the new one, never a mix.
 *
 * @module
 */
import { randomHex } from "./registry.ts";

/** Options for {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** fsync the file before the rename and the directory after it (survives power loss). */
  sync: boolean;
}

/**
 * Write `bytes` to `path` atomically.
 *
 * @param path final path
 * @param bytes complete contents
 * @param options whether to sync
 */
export function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: AtomicWriteOptions,
): void {
  const tmp = `${path}.tmp-${randomHex()}`;
  try {
    const f = Deno.openSync(tmp, { write: true, createNew: true, mode: 0o644 });
    try {
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
      if (options.sync) f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // never created, or already renamed
    }
    throw e;
  }
  if (options.sync) syncDir(path.slice(0, Math.max(1, path.lastIndexOf("/"))));
}

function syncDir(dir: string): void {
  try {
    using d = Deno.openSync(dir, { read: true });
    d.syncSync();
  } catch {
    // some filesystems refuse to sync a directory; the rename is still atomic
  }
}
