/**
 * Advisory file locks (flock(2) through libdeepwater): the writer lock that
 * allows one writer per feed, and the catalog, manifest and maintenance
 * locks that serialise updates between processes.
 *
 * A lock dies with its process (SIGKILL included), so it never goes stale;
 * the lock file is created if missing (mode 0644) and never through a
 * symbolic link (`O_NOFOLLOW`: a link is `CORRUPT`). flock does not work
 * across network filesystems (see `c/deepwater.h`).
 *
 * @module
 */
import { cstr, DW, native, unwrap } from "./binding.ts";

/** How to take a {@linkcode FileLock}. */
export interface LockOptions {
  /** Wait until the lock is free (true), or fail at once while another process holds it. */
  wait: boolean;
  /** Take a shared lock instead of an exclusive one. */
  shared?: boolean;
  /**
   * What the caller was doing, as the start of any error message
   * (`"Cannot lock catalog"`); the message goes on with the lock path and the
   * system's reason. A lock held elsewhere (`wait: false`) is `WRITER_LOCKED`.
   */
  action: string;
}

/** A held flock on a lock file; `close()` (or `using`) releases it. */
export class FileLock {
  /** The lock file. */
  readonly path: string;
  #fd: number;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /**
   * Take the lock on `path`.
   *
   * @param path the lock file
   * @param options see {@linkcode LockOptions}
   * @returns the held lock; throws a `DeepwaterError` starting with
   *   `options.action` (`WRITER_LOCKED` when `wait` is false and it is held)
   */
  static acquire(path: string, options: LockOptions): FileLock {
    const fd = new Int32Array(1);
    unwrap(open(path, options, fd), options.action, path);
    return new FileLock(path, fd[0]!);
  }

  /**
   * Take the lock on `path` if no other process holds it, without waiting.
   *
   * @param path the lock file
   * @param options `shared`, and the `action` for other failures
   * @returns the held lock, or undefined when another process holds it
   */
  static tryAcquire(path: string, options: Omit<LockOptions, "wait">): FileLock | undefined {
    const fd = new Int32Array(1);
    const rc = open(path, { ...options, wait: false }, fd);
    if (rc === DW.ELOCKED) return undefined;
    unwrap(rc, options.action, path);
    return new FileLock(path, fd[0]!);
  }

  /**
   * Whether another process holds an exclusive lock on `path`, asked without
   * taking the lock and without creating the file (so it works for a user
   * who may only read).
   *
   * @param path the lock file (missing: not held)
   * @param action the start of any error message
   * @returns true when held
   */
  static probe(path: string, action: string): boolean {
    const held = new Int32Array(1);
    unwrap(native().dw_lock_probe(cstr(path), held), action, path);
    return held[0] === 1;
  }

  /** Release the lock and close its descriptor. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    native().dw_lock_close(this.#fd);
    this.#fd = -1;
  }

  /** Same as {@linkcode FileLock.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function open(path: string, options: LockOptions, fd: Int32Array): number {
  return native().dw_lock_open(cstr(path), options.shared ? 0 : 1, options.wait ? 0 : 1, fd);
}
