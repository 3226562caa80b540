/**
 * Platform logging through LogTape, without touching the application's
 * LogTape configuration: each Platform writes its own records straight to a
 * rotating file sink (`<base>/deepwater.log`, 10 MB x 5 backups), forwards
 * them to the `["deepwater"]` LogTape category (so an application that
 * configured LogTape sees them too), and echoes warnings and errors to stderr.
 * Nothing is ever logged per record.
 *
 * @module
 */
import { getLogger, type LogLevel, type LogRecord, type Sink } from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";

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

/** A small structured logger bound to one data directory. */
export class Log {
  #sink: (Sink & Disposable) | undefined;
  readonly #console: boolean;
  readonly #forward = getLogger(["deepwater"]);

  /**
   * @param path log file path
   * @param options see {@linkcode LogOptions}
   */
  constructor(path: string, options: LogOptions = {}) {
    this.#console = options.console ?? true;
    if (options.file ?? true) {
      this.#sink = getRotatingFileSink(path, {
        maxSize: LOG_MAX_BYTES,
        maxFiles: LOG_BACKUPS,
        formatter: (r: LogRecord) =>
          `${new Date(r.timestamp).toISOString()} [${r.level.toUpperCase()}] ${
            r.message.join("")
          } ${Object.keys(r.properties).length ? JSON.stringify(r.properties) : ""}\n`,
      });
    }
  }

  #emit(level: LogLevel, message: string, properties: Record<string, unknown>): void {
    const record: LogRecord = {
      category: ["deepwater"],
      level,
      message: [message],
      rawMessage: message,
      timestamp: Date.now(),
      properties,
    };
    this.#sink?.(record);
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

  /** Flush and close the file sink. Idempotent. */
  close(): void {
    const s = this.#sink;
    this.#sink = undefined;
    s?.[Symbol.dispose]();
  }
}
