/**
 * A walk over the committed records of a time range, one run of whole
 * records at a time: the one primitive behind `read()`, `count()`,
 * `columns()`, `batches()`, `cursor()` and `visit()` on both kinds of
 * reader. A storage kind supplies the step (find the next run and point the
 * walk at it) and the release; what a run holds stays valid until the next
 * step, or, for a retaining walk, until `close()`.
 *
 * @module
 */
import type { RecordRun } from "./columns.ts";
import { type RunArrays, runArrays } from "../schema/view.ts";

const NOWHERE = new ArrayBuffer(0);
const NO_BYTES = new Uint8Array(NOWHERE);
const NO_VIEW = new DataView(NOWHERE);
const NO_ARRAYS = runArrays(NOWHERE);

/** How a storage kind moves a walk. */
export interface WalkSteps<S> {
  /** Point the walk at its next run and return true, or release everything and return false. */
  step(walk: RecordWalk<S>): boolean;
  /** Release whatever the walk holds (idempotent). */
  release(walk: RecordWalk<S>): void;
  /** Put the walk's state back before its first run (after a release). */
  rewind(walk: RecordWalk<S>): void;
}

/** See the module documentation. `S` is the storage kind's own state. */
export class RecordWalk<S> implements RecordRun {
  /** Bytes holding the current run. */
  u8: Uint8Array = NO_BYTES;
  /** DataView over the same bytes. */
  dv: DataView = NO_VIEW;
  /** Byte offset of the run's first record. */
  at = 0;
  /** Records in the run. */
  count = 0;
  /** Address of `u8`'s first byte when it is a mapping. */
  base: bigint | undefined = undefined;
  /** Typed arrays over the run's buffer (which `u8` covers from its first byte). */
  arrays: RunArrays = NO_ARRAYS;
  /** True once the walk ended or closed. */
  done = false;
  readonly #steps: WalkSteps<S>;

  /**
   * @param steps the storage kind's moves
   * @param state the storage kind's position
   * @param start first timestamp to include
   * @param end last timestamp to include
   * @param retain keep every run valid until `close()` (for gathering several at once)
   */
  constructor(
    steps: WalkSteps<S>,
    readonly state: S,
    public start: number,
    readonly end: number,
    readonly retain: boolean,
  ) {
    this.#steps = steps;
  }

  /** Move to the next run; false once there is none (everything is released then). */
  next(): boolean {
    if (this.done) return false;
    if (this.#steps.step(this)) return true;
    this.close();
    return false;
  }

  /**
   * Start over from timestamp `start` (the end stays): what was held is
   * released, and the next `next()` finds the first run again.
   *
   * @param start first timestamp to include from now on
   */
  restart(start: number): void {
    this.#steps.release(this);
    this.#steps.rewind(this);
    this.start = start;
    this.count = 0;
    this.done = false;
  }

  /** Release what the walk holds. Idempotent. */
  close(): void {
    this.done = true;
    this.count = 0;
    this.#steps.release(this);
  }
}

const NO_STEPS: WalkSteps<unknown> = { step: () => false, release: () => {}, rewind: () => {} };

/**
 * A run on its own, never walked: what `pullRun` points at a chunk or fills
 * from a ring (a tail, a raw batch, a ring stream's decode).
 *
 * @returns an empty run
 */
export function standaloneRun(): RecordWalk<unknown> {
  return new RecordWalk<unknown>(NO_STEPS, undefined, 0, 0, false);
}
