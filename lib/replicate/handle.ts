/**
 * The handle a running publisher or mirror returns: progress, `closed`,
 * `close()`.
 *
 * @module
 */
import type { Position } from "./protocol.ts";

/** Options both directions take. */
export interface ReplicateOptions {
  /** The feed to replicate. */
  feed: string;
  /** NATS server URL (`nats://127.0.0.1:4222`). */
  nats: string;
  /** JetStream stream name (default `deepwater-<feed>`, dots as `_`). */
  stream?: string;
  /** Where progress and waiting is reported (default: nowhere). */
  log?: (line: string) => void;
}

/** A running publisher or mirror. */
export interface Replicator extends AsyncDisposable {
  /**
   * Settles when it stops: resolves after `close()`, rejects with the
   * `DeepwaterError` that stopped it (a layout that differs, a gap in the
   * stream, a corrupt message).
   */
  readonly closed: Promise<void>;
  /** Records this run stored in the stream (publisher, once acknowledged) or appended (mirror). */
  readonly records: number;
  /** Source position of the newest record stored or appended, `null` before the first. */
  readonly position: Position | null;
  /**
   * Stop: finish the batch in flight (a publish awaits its acknowledgement;
   * a mirror completes its append), close the connection and the feed's
   * handles. Resolves when stopped (never rejects; `closed` reports errors).
   */
  close(): Promise<void>;
}

/** The mutable state behind a {@linkcode Replicator}. */
export interface Progress {
  /** Records stored or appended by this run. */
  records: number;
  /** Position of the newest of them. */
  position: Position | null;
}

/**
 * Wrap a running task as a {@linkcode Replicator}.
 *
 * @param task runs until `signal` aborts or it fails
 * @returns the handle
 */
export function startReplicator(
  task: (signal: AbortSignal, progress: Progress) => Promise<void>,
): Replicator {
  const stop = new AbortController();
  const progress: Progress = { records: 0, position: null };
  const closed = task(stop.signal, progress);
  closed.catch(() => {}); // reported through `closed`; never an unhandled rejection
  const close = async () => {
    stop.abort();
    await closed.catch(() => {});
  };
  return {
    closed,
    get records() {
      return progress.records;
    },
    get position() {
      return progress.position;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
