/**
 * Where the formats' bytes go. `FileSink`: the file an export writes, a
 * temporary file beside the destination, filled through a bounded buffer,
 * then synced and renamed into place. An export that fails, is aborted or is
 * killed never leaves a partial file under the destination's name (a killed
 * one may leave its temporary file, `<out>.tmp-<random>`, which no reader
 * mistakes for the export). `BufferSink`: bytes kept in memory until taken,
 * for an HTTP body that hands them to the client a piece at a time.
 *
 * @module
 */
import { dirname } from "node:path";
import { DeepwaterError } from "../base/errors.ts";
import { randomHex, removeQuietly } from "../native/atomic_file.ts";
import type { ByteSink } from "./format.ts";

/** Bytes gathered before one write to the file: few system calls, bounded memory. */
const BUFFER_BYTES = 1 << 20;

/**
 * A byte sink that becomes `path` only when {@linkcode FileSink.commit}
 * succeeds. Dispose without committing removes the temporary file.
 *
 * @example
 * ```ts
 * import { FileSink } from "./sink.ts";
 * const dir = Deno.makeTempDirSync();
 * {
 *   using sink = new FileSink(`${dir}/a.csv`);
 *   sink.write(new TextEncoder().encode("a\n1\n"));
 *   sink.commit();
 * }
 * console.assert(Deno.readTextFileSync(`${dir}/a.csv`) === "a\n1\n");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class FileSink implements ByteSink {
  /** The destination. */
  readonly path: string;
  /** Bytes written so far (buffered ones included). */
  bytesWritten = 0;
  readonly #tmp: string;
  #file: Deno.FsFile | undefined;
  readonly #buf = new Uint8Array(BUFFER_BYTES);
  #used = 0;

  /**
   * Create the temporary file (exclusively, so no planted link is followed).
   *
   * @param path the destination; its directory must exist
   */
  constructor(path: string) {
    this.path = path;
    this.#tmp = `${path}.tmp-${randomHex()}`;
    try {
      this.#file = Deno.openSync(this.#tmp, { write: true, createNew: true, mode: 0o644 });
    } catch (e) {
      throw this.#io(`cannot create "${this.#tmp}" beside it`, e);
    }
  }

  /**
   * Append bytes. They are copied to the buffer or written before this
   * returns, so the caller may reuse `bytes`.
   *
   * @param bytes what to append
   */
  write(bytes: Uint8Array): void {
    this.bytesWritten += bytes.length;
    if (this.#used + bytes.length > BUFFER_BYTES) this.flush();
    if (bytes.length >= BUFFER_BYTES) {
      this.#writeAll(bytes);
      return;
    }
    this.#buf.set(bytes, this.#used);
    this.#used += bytes.length;
  }

  /** Write what the buffer holds to the temporary file. */
  flush(): void {
    if (this.#used === 0) return;
    this.#writeAll(this.#buf.subarray(0, this.#used));
    this.#used = 0;
  }

  /** Flush, fsync, rename the temporary file to `path`, fsync the directory. */
  commit(): void {
    const file = this.#open();
    this.flush();
    try {
      file.syncSync();
      file.close();
      this.#file = undefined;
      Deno.renameSync(this.#tmp, this.path);
      using dir = Deno.openSync(dirname(this.path), { read: true });
      dir.syncSync();
    } catch (e) {
      this.abort();
      throw this.#io(`cannot put the finished file in place`, e);
    }
  }

  /** Give up: close and remove the temporary file (nothing at `path` changes). */
  abort(): void {
    if (this.#file === undefined) return;
    try {
      this.#file.close();
    } catch {
      // closing is best effort on the way out
    }
    this.#file = undefined;
    removeQuietly(this.#tmp);
  }

  /** Abort unless committed. */
  [Symbol.dispose](): void {
    this.abort();
  }

  #open(): Deno.FsFile {
    if (this.#file === undefined) {
      throw new DeepwaterError(
        "CLOSED",
        `Export to "${this.path}" is already finished or aborted`,
        {
          path: this.path,
        },
      );
    }
    return this.#file;
  }

  #writeAll(bytes: Uint8Array): void {
    const file = this.#open();
    try {
      for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
    } catch (e) {
      throw this.#io(`cannot write "${this.#tmp}"`, e);
    }
  }

  #io(what: string, e: unknown): DeepwaterError {
    return new DeepwaterError(
      "IO",
      `Cannot export to "${this.path}": ${what}: ${
        e instanceof Error ? e.message : e
      }: check the directory exists, is writable and has space`,
      { path: this.path, cause: e },
    );
  }
}

/**
 * A byte sink that keeps what is written until {@linkcode BufferSink.take}
 * hands it over: what a streamed HTTP body enqueues after each group of
 * records. The caller takes after every group, so it holds one group's
 * bytes at most.
 *
 * @example
 * ```ts
 * import { BufferSink } from "./sink.ts";
 * const sink = new BufferSink();
 * sink.write(new TextEncoder().encode("a\n"));
 * sink.write(new TextEncoder().encode("b\n"));
 * console.assert(new TextDecoder().decode(sink.take()) === "a\nb\n");
 * console.assert(sink.size === 0);
 * ```
 */
export class BufferSink implements ByteSink {
  #buf = new Uint8Array(1 << 16);
  #used = 0;

  /** Bytes written and not yet taken. */
  get size(): number {
    return this.#used;
  }

  /**
   * Append a copy of `bytes`.
   *
   * @param bytes what to append
   */
  write(bytes: Uint8Array): void {
    if (this.#used + bytes.length > this.#buf.length) {
      const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#used + bytes.length));
      grown.set(this.#buf.subarray(0, this.#used));
      this.#buf = grown;
    }
    this.#buf.set(bytes, this.#used);
    this.#used += bytes.length;
  }

  /**
   * Hand over what was written since the last take (a copy the caller owns)
   * and start empty.
   *
   * @returns the bytes
   */
  take(): Uint8Array<ArrayBuffer> {
    const out = this.#buf.slice(0, this.#used);
    this.#used = 0;
    return out;
  }
}
