/**
 * Platform logging through LogTape, without touching the application's
 * LogTape configuration: each Platform appends its own records to a rotating
 * file (`<base>/deepwater.log`, 10 MB x 5 backups), forwards them to the
 * `["deepwater"]` LogTape category (so an application that configured
 * LogTape sees them too), and echoes warnings and errors to stderr. Nothing
 * is ever logged per record.
 *
 * The file is written here rather than through `@logtape/file`, whose sink
 * opens the path itself (create + append, following symlinks): a symlink
 * planted at `deepwater.log` would have the platform append to any file its
 * user may write. See {@linkcode openLogFile} for how it is opened instead.
 *
 * @module
 */
import { getLogger, type LogLevel } from "@logtape/logtape";
import { DeepwaterError } from "./errors.ts";

/** Bytes before the log rotates. */
export const LOG_MAX_BYTES = 10 * 1024 * 1024;
/** Rotated backups kept. */
export const LOG_BACKUPS = 5;

/** Where platform log records go. */
export interface LogOptions {
  /** Write `<base>/deepwater.log` (default true). */
  file?: boolean;
  /** Echo warnings and errors to stderr (default true). */
  console?: boolean;
}

/**
 * Open the log for appending without ever following a symlink at `path`.
 *
 * Deno's open has no O_NOFOLLOW, so: a new log is created with O_CREAT|O_EXCL
 * (`createNew`), which never follows a symlink, dangling or not; an existing
 * one must be a regular file by `lstat`, is opened without O_CREAT (a
 * dangling symlink swapped in cannot make it create anything), and the opened
 * file's device and inode must be those `lstat` saw, else it is closed
 * unwritten. What remains: a symlink to an existing file swapped in between
 * the `lstat` and the open is followed by the open itself, which writes
 * nothing but can have an open's side effects on a special file (a FIFO
 * without a reader blocks it, a device may act on being opened).
 *
 * @param path log file path
 * @returns the open file and its size
 */
function openLogFile(path: string): { file: Deno.FsFile; size: number } {
  const corrupt = (why: string) =>
    new DeepwaterError(
      "CORRUPT",
      `Log "${path}" ${why}: remove it (Deepwater never logs through a link or into a special file)`,
      { path },
    );
  const io = (e: unknown) =>
    new DeepwaterError("IO", `Cannot open log "${path}": ${e instanceof Error ? e.message : e}`, {
      path,
      cause: e,
    });
  for (let attempt = 0;; attempt++) {
    let seen: Deno.FileInfo;
    try {
      seen = Deno.lstatSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw io(e);
      try {
        return { file: Deno.openSync(path, { append: true, createNew: true }), size: 0 };
      } catch (e) {
        // Another process created it between the lstat and the open: look again.
        if (e instanceof Deno.errors.AlreadyExists && attempt < 3) continue;
        throw io(e);
      }
    }
    if (seen.isSymlink) throw corrupt("is a symbolic link");
    if (!seen.isFile) throw corrupt("is not a regular file");
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { append: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound && attempt < 3) continue; // rotated away meanwhile
      throw io(e);
    }
    const opened = file.statSync();
    if (opened.dev !== seen.dev || opened.ino !== seen.ino) {
      file.close();
      throw corrupt("was replaced while it was being opened");
    }
    return { file, size: opened.size };
  }
}

/** The rotating log file: `path`, then `path.1` (newest) to `path.<backups>`. */
class LogFile {
  readonly #path: string;
  #file: Deno.FsFile;
  #size: number;

  constructor(path: string) {
    this.#path = path;
    ({ file: this.#file, size: this.#size } = openLogFile(path));
  }

  append(bytes: Uint8Array): void {
    if (this.#size > 0 && this.#size + bytes.length > LOG_MAX_BYTES) this.#rotate();
    for (let off = 0; off < bytes.length;) off += this.#file.writeSync(bytes.subarray(off));
    this.#size += bytes.length;
  }

  /** Renames move a planted symlink (never its target); only `path` is ever opened. */
  #rotate(): void {
    this.#file.close();
    for (let i = LOG_BACKUPS - 1; i >= 1; i--) {
      try {
        Deno.renameSync(`${this.#path}.${i}`, `${this.#path}.${i + 1}`);
      } catch {
        // a missing backup is normal
      }
    }
    try {
      Deno.renameSync(this.#path, `${this.#path}.1`);
    } catch {
      // another process rotated it first
    }
    ({ file: this.#file, size: this.#size } = openLogFile(this.#path));
  }

  close(): void {
    this.#file.close();
  }
}

/** A small structured logger bound to one data directory. */
export class Log {
  #file: LogFile | undefined;
  readonly #console: boolean;
  readonly #forward = getLogger(["deepwater"]);
  readonly #encoder = new TextEncoder();

  /**
   * Open the log; throws `CORRUPT` when `path` is a symlink or not a regular
   * file, `IO` (with the system error as `cause`) when it cannot be opened.
   *
   * @param path log file path
   * @param options see {@linkcode LogOptions}
   */
  constructor(path: string, options: LogOptions = {}) {
    this.#console = options.console ?? true;
    if (options.file ?? true) this.#file = new LogFile(path);
  }

  #emit(level: LogLevel, message: string, properties: Record<string, unknown>): void {
    if (this.#file) {
      const props = Object.keys(properties).length ? JSON.stringify(properties) : "";
      const line = `${new Date().toISOString()} [${level.toUpperCase()}] ${message} ${props}\n`;
      try {
        this.#file.append(this.#encoder.encode(line));
      } catch (e) {
        // Logging must not fail the operation it describes: stop writing the file, say so once.
        this.#file = undefined;
        // deno-lint-ignore no-console
        console.error(
          `deepwater warning: log file disabled: ${e instanceof Error ? e.message : e}`,
        );
      }
    }
    this.#forward[level === "warning" ? "warn" : level](message, properties);
    if (this.#console && (level === "warning" || level === "error" || level === "fatal")) {
      // deno-lint-ignore no-console
      console.error(`deepwater ${level}: ${message}`);
    }
  }

  /** Log an informational event. */
  info(message: string, properties: Record<string, unknown> = {}): void {
    this.#emit("info", message, properties);
  }

  /** Log a warning (also printed to stderr). */
  warn(message: string, properties: Record<string, unknown> = {}): void {
    this.#emit("warning", message, properties);
  }

  /** Log an error (also printed to stderr). */
  error(message: string, properties: Record<string, unknown> = {}): void {
    this.#emit("error", message, properties);
  }

  /** Close the file. Idempotent. */
  close(): void {
    const f = this.#file;
    this.#file = undefined;
    f?.close();
  }
}
