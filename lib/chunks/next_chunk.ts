/**
 * Keeping the writer's next chunk ready: creating and pre-faulting chunk
 * files on a worker thread (non-blocking FFI) ahead of rotation, so a
 * rotation costs microseconds instead of a 64 MiB file's page faults.
 *
 * Two jobs, both off the writer's thread:
 * - {@linkcode NextChunk.prepare}: create the next chunk's file, mapped and
 *   pre-faulted, under its final name but unpublished (the registry does not
 *   list it until the writer publishes it, and the writer refuses to start
 *   beside data past its newest chunk, so an unused one is harmless).
 * - {@linkcode NextChunk.warm}: pre-fault a chunk the writer mapped itself
 *   (its first, or after a reboot emptied the page cache) through a second
 *   mapping; populating writes nothing, so it is safe beside the writer's
 *   own stores.
 *
 * @module
 */
import { removeQuietly } from "../native/atomic_file.ts";
import { Mapping, type PendingMapping } from "../native/mapping.ts";

/** The next chunk of one writer, being prepared. See the module documentation. */
export class NextChunk {
  readonly #pathOf: (id: number) => string;
  readonly #bytes: number;
  readonly #enabled: boolean;
  #next: { id: number; pending: PendingMapping } | undefined;
  #warming: PendingMapping | undefined;

  /**
   * @param pathOf a chunk id's file path
   * @param bytes a new chunk's file size
   * @param enabled false: prepare nothing (the writer's `prefetch: false`)
   */
  constructor(pathOf: (id: number) => string, bytes: number, enabled: boolean) {
    this.#pathOf = pathOf;
    this.#bytes = bytes;
    this.#enabled = enabled;
  }

  /** Settles once the chunk being warmed is pre-faulted (at once when none is). */
  get ready(): Promise<void> {
    return this.#warming?.done ?? Promise.resolve();
  }

  /**
   * Start creating and pre-faulting chunk `id` on a worker thread.
   *
   * @param id the chunk the writer will rotate to next
   */
  prepare(id: number): void {
    if (!this.#enabled) return;
    this.#next = {
      id,
      pending: Mapping.begin(this.#pathOf(id), {
        length: this.#bytes,
        write: true,
        create: true,
        prefault: true,
      }),
    };
  }

  /**
   * The prepared mapping of chunk `id`, waiting for the worker if it is
   * still running (waiting beats faulting the same pages from two threads);
   * undefined when `id` was not prepared or the worker failed (the caller
   * then maps it itself, which reports any real error).
   *
   * @param id the chunk the writer is starting
   */
  take(id: number): Mapping | undefined {
    if (this.#next?.id !== id) return undefined;
    const { pending } = this.#next;
    this.#next = undefined;
    try {
      return pending.wait();
    } catch {
      return undefined;
    }
  }

  /**
   * Pre-fault a chunk the writer mapped itself, through a second mapping on
   * a worker thread (`ready` says when it is done).
   *
   * @param path the chunk file
   * @param bytes its mapped length
   */
  warm(path: string, bytes: number): void {
    if (!this.#enabled) return;
    this.settleWarming(true);
    this.#warming = Mapping.begin(path, { length: bytes, write: true, prefault: true });
  }

  /**
   * Unmap the warming mapping once its worker is done; with `wait`, wait for
   * it, otherwise look again at the next call.
   *
   * @param wait whether to wait for the worker
   */
  settleWarming(wait: boolean): void {
    const w = this.#warming;
    if (!w) return;
    try {
      const m = wait ? w.wait() : w.poll();
      if (!m) return; // still running
      m.close();
    } catch {
      // the worker failed: nothing is mapped, and the writes fault pages in themselves
    }
    this.#warming = undefined;
  }

  /**
   * Give everything up: wait for a preparing worker (unlinking before it
   * creates the file would leave an orphan) and remove the never-published
   * file; let a warming mapping unmap when its worker finishes. Idempotent.
   */
  close(): void {
    if (this.#next) {
      const { pending } = this.#next;
      this.#next = undefined;
      try {
        pending.wait().close();
      } catch {
        // the worker failed: nothing is mapped
      }
      removeQuietly(pending.path);
    }
    this.#warming?.discard(); // only a second mapping of a published chunk: nothing to wait for
    this.#warming = undefined;
  }
}
