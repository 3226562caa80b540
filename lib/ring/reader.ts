/**
 * The ring reader for `persist: false` feeds: the feed reader contract
 * (`feed/contract.ts`) over the retained window of a shared-memory ring.
 *
 * Every record is copied out of its slot and its sequence word re-checked
 * before it is decoded, so a reader never returns a torn or overwritten
 * record. Records the writer overwrote before this reader got to them are
 * counted in `lost` and reported through `onOverrun`.
 *
 * Before any writer has created the ring the feed reads as empty, and
 * `stream()` waits for it. If the ring is removed or replaced, `stream()`
 * follows the new one (checking while idle, every 250 ms).
 *
 * @module
 */
import { type StreamSettings, timeRange } from "../base/input.ts";
import { DeepwaterError } from "../base/errors.ts";
import type { FeedContext } from "../directory/feed.ts";
import type { DecodedRecord } from "../schema/codec.ts";
import type { FeedReader, ReaderOptions, RingFeedReader } from "../feed/contract.ts";
import { ReaderBase } from "../feed/reader_base.ts";
import { RecordWalk, standaloneRun, type WalkSteps } from "../feed/walk.ts";
import { runArrays } from "../schema/view.ts";
import {
  currentNonce,
  RING_FIELDS,
  ringGeometry,
  RingMap,
  ringName,
  SLOT_HEADER,
} from "./format.ts";
import { u64 } from "../schema/header.ts";
import { FaultWatch } from "../native/mapping.ts";

/** What to do about a truncated ring. */
const RING_FIX =
  "remove the ring (Platform.removeRing or deepwater-cleanup) and restart the writer";

/** Records a ring walk copies per run. */
const RUN = 4096;

/** A ring walk's position: the next record number and the head it walks to. */
interface RingWalkState {
  pos: number;
  head: number;
  started: boolean;
}

/** A position in a ring: the next record number, and the incarnation it counts in. */
interface RingCursor {
  pos: number;
  nonce: number | undefined;
}

/**
 * Reads a `persist: false` feed (the {@linkcode RingFeedReader} contract).
 * Created by `Platform.createReader`.
 */
export class RingReader extends ReaderBase<RingCursor> implements RingFeedReader {
  /** Always `"ring"`. */
  readonly kind = "ring" as const;
  readonly #name: string;
  readonly #rs: number;
  readonly #scratch: Uint8Array;
  readonly #scratchDv: DataView;
  #ring: RingMap | undefined;
  #lost = 0;
  #lastReplacementCheck = performance.now();
  readonly #faults = new FaultWatch();
  /** The run `pull` decodes from (its buffer is reused). */
  readonly #pulled = standaloneRun();

  /** Use `Platform.createReader`. */
  constructor(ctx: FeedContext, options: ReaderOptions, onClose: (r: FeedReader) => void) {
    super(ctx, options, onClose);
    this.#rs = ctx.layout.recordSize;
    this.#scratch = new Uint8Array(new ArrayBuffer(this.#rs)); // off the heap: SeqSlots.read takes its address
    this.#scratchDv = new DataView(this.#scratch.buffer);
    this.#name = ringName(ctx);
    this.available = this.#headCursor();
  }

  /** A cursor at the ring's head (or at 0 before the ring exists). */
  #headCursor(): RingCursor {
    const ring = this.#attach();
    return { pos: ring?.head() ?? 0, nonce: ring?.nonce };
  }

  /** Records this reader's `readAvailable()` and `stream()` calls lost to overruns so far. */
  get lost(): number {
    return this.#lost;
  }

  /** Slots in the ring (how many records it retains), or 0 before it exists. */
  get capacity(): number {
    return this.#attach()?.capacity ?? 0;
  }

  /** Shared-memory name of the ring. */
  get shmName(): string {
    return this.#name;
  }

  /** Map the ring if it exists. */
  #attach(): RingMap | undefined {
    if (this.#ring) return this.#ring;
    const geo = ringGeometry(this.ctx.spec.chunk_size_mb, this.#rs);
    this.#ring = RingMap.attach(this.#name, geo, this.#rs, this.ctx.layoutCrc, false);
    return this.#ring;
  }

  /**
   * The ring, with `cursor` moved to its first record when the ring is a
   * different incarnation than the one the cursor was reading (it was
   * removed and re-created: a new ring counts from zero).
   */
  #follow(cursor: RingCursor): RingMap | undefined {
    const ring = this.#attach();
    if (ring && cursor.nonce !== ring.nonce) {
      if (cursor.nonce !== undefined) cursor.pos = 0;
      cursor.nonce = ring.nonce;
    }
    return ring;
  }

  /** Copy record n into scratch; false if it was overwritten (or is being). */
  #fetch(ring: RingMap, n: number): boolean {
    return this.#fetchInto(ring, n, this.#scratch, 0);
  }

  /** Copy record n to `dst` at `at`; false if it was overwritten (or is being). */
  #fetchInto(ring: RingMap, n: number, dst: Uint8Array, at: number): boolean {
    const off = ring.slotOffset(n);
    return ring.slots.read(dst, at, off >> 2, (2 * n + 2) >>> 0, off + SLOT_HEADER, this.#rs);
  }

  /** Oldest retained record number (serial, modulo 2^32) and the head. */
  #window(ring: RingMap): [number, number] {
    const head = ring.head();
    const filled = Atomics.load(ring.u32, RING_FIELDS.filled >> 2) === 1;
    return [filled ? (head - ring.capacity) >>> 0 : 0, head];
  }

  /**
   * Retained records, optionally limited to `startUs <= ts <= endUs`, in
   * write order (a scan of the window; rings are small). Bounds as for
   * `Reader.read`: left out, a start of `-Infinity` or an end of `Infinity`
   * is open; a bound that is not a uint64 time is `INVALID_ARGUMENT`.
   *
   * @param startUs first timestamp to include
   * @param endUs last timestamp to include
   * @returns decoded records
   */
  read(startUs?: number | bigint, endUs?: number | bigint): IterableIterator<DecodedRecord> {
    this.check();
    const [start, end] = timeRange(startUs, endUs);
    return this.#range(start, end);
  }

  *#range(start: number, end: number): Generator<DecodedRecord> {
    const rs = this.#rs;
    const walk = this.walk(start, end, false);
    try {
      while (walk.next()) {
        const { dv, u8 } = walk;
        for (let i = 0, o = walk.at; i < walk.count; i++, o += rs) yield this.decode(dv, u8, o);
      }
    } finally {
      walk.close();
    }
  }

  /**
   * See `ReaderBase.walk`: the retained records in range, copied out of
   * their slots (each checked against its sequence word) in runs of up to
   * 4096 records. A record overwritten while the walk copies it is gone.
   */
  protected walk(start: number, end: number, retain: boolean): RecordWalk<RingWalkState> {
    return new RecordWalk(this.#steps, { pos: 0, head: 0, started: false }, start, end, retain);
  }

  readonly #steps: WalkSteps<RingWalkState> = {
    step: (w) => this.#step(w),
    release: () => {},
    rewind: (w) => void (w.state.started = false),
  };

  #step(w: RecordWalk<RingWalkState>): boolean {
    this.check();
    const ring = this.#attach();
    const st = w.state;
    if (!ring || w.end < w.start) return false;
    if (!st.started) {
      [st.pos, st.head] = this.#window(ring);
      st.started = true;
    }
    const rs = this.#rs, tsOff = this.ctx.layout.tsOffset;
    // A retaining walk keeps every run: each gets its own buffer.
    const reuse = !w.retain && w.u8.byteLength === RUN * rs;
    const buf = reuse ? w.u8 : new Uint8Array(RUN * rs);
    const dv = reuse ? w.dv : new DataView(buf.buffer);
    let k = 0;
    while (st.pos !== st.head && k < RUN) {
      const n = st.pos;
      st.pos = (st.pos + 1) >>> 0;
      if (!this.#fetchInto(ring, n, buf, k * rs)) continue; // overwritten while we read: gone
      const ts = u64(dv, k * rs + tsOff);
      if (ts >= w.start && ts <= w.end) k++;
    }
    this.checkFaults();
    if (k === 0) return false;
    if (!reuse) w.arrays = runArrays(buf.buffer as ArrayBuffer);
    w.u8 = buf;
    w.dv = dv;
    w.base = undefined;
    w.at = 0;
    w.count = k;
    return true;
  }

  /** Number of retained records in [startUs, endUs]. */
  count(startUs?: number | bigint, endUs?: number | bigint): number {
    let n = 0;
    for (const _ of this.read(startUs, endUs)) n++;
    return n;
  }

  /** The newest record, or undefined. */
  latest(): DecodedRecord | undefined {
    this.check();
    const ring = this.#attach();
    if (!ring) return undefined;
    for (let tries = 0; tries < 16; tries++) {
      const [from, head] = this.#window(ring);
      if (from === head) return undefined;
      const n = (head - 1) >>> 0;
      if (this.#fetch(ring, n)) return this.decode(this.#scratchDv, this.#scratch, 0);
    }
    this.checkFaults();
    return undefined;
  }

  /** Move up to `max` records past `cursor` into `out`; overwritten ones are counted as lost. */
  protected pull(
    cursor: RingCursor,
    max: number,
    out: DecodedRecord[],
    onOverrun: ((lost: number) => void) | undefined,
    runs?: number[],
  ): void {
    const run = this.#pulled;
    const rs = this.#rs;
    let expect = -1;
    while (out.length < max && this.pullRun(cursor, max - out.length, run, onOverrun)) {
      const first = (cursor.pos - run.count) >>> 0;
      if (runs && first !== expect) runs.push(out.length, cursor.nonce!, first);
      expect = cursor.pos;
      const { dv, u8 } = run;
      for (let i = 0, o = run.at; i < run.count; i++, o += rs) out.push(this.decode(dv, u8, o));
    }
  }

  #reportLost(lost: number, onOverrun: ((lost: number) => void) | undefined): void {
    if (lost > 0) {
      this.#lost += lost;
      if (onOverrun) onOverrun(lost);
      else this.ctx.log.warn(`reader of ring "${this.feed}" fell behind and lost ${lost} records`);
    }
  }

  /**
   * See `ReaderBase.pullRun`: consecutive records past `cursor`, copied out
   * of their slots (each checked against its sequence word) into the run's
   * own buffer; records overwritten before the copy are counted as lost.
   */
  protected pullRun(
    cursor: RingCursor,
    maxRecords: number,
    run: RecordWalk<unknown>,
    onOverrun: ((lost: number) => void) | undefined,
  ): boolean {
    const ring = this.#follow(cursor);
    if (!ring) return false;
    const rs = this.#rs;
    let lost = 0;
    let got = false;
    for (;;) {
      const [from, head] = this.#window(ring);
      const behind = (head - cursor.pos) >>> 0;
      if (behind === 0) break;
      const retained = (head - from) >>> 0;
      if (behind > retained) {
        if (behind <= 2 ** 31) lost += behind - retained;
        cursor.pos = from;
        continue;
      }
      const n = Math.min(behind, maxRecords);
      if (
        run.u8.byteLength < n * rs || run.base !== undefined || run.arrays.buffer !== run.u8.buffer
      ) {
        const buf = new Uint8Array(Math.max(n, RUN) * rs);
        run.u8 = buf;
        run.dv = new DataView(buf.buffer);
        run.arrays = runArrays(buf.buffer);
        run.base = undefined;
      }
      const start = cursor.pos;
      let k = 0;
      while (k < n && this.#fetchInto(ring, (start + k) >>> 0, run.u8, k * rs)) k++;
      cursor.pos = (start + k) >>> 0;
      if (k === 0) {
        lost++;
        cursor.pos = (cursor.pos + 1) >>> 0;
        continue;
      }
      run.at = 0;
      run.count = k;
      got = true;
      break;
    }
    this.#reportLost(lost, onOverrun);
    return got;
  }

  /** The first retained record at or after `from` (a scan of the window), else the head. */
  #fromStart(from: number): RingCursor {
    const ring = this.#attach();
    if (!ring) return { pos: 0, nonce: undefined };
    const [start, head] = this.#window(ring);
    const tsOff = this.ctx.layout.tsOffset;
    for (let n = start; n !== head; n = (n + 1) >>> 0) {
      this.check();
      if (!this.#fetch(ring, n)) continue; // overwritten while we looked: gone
      if (u64(this.#scratchDv, tsOff) >= from) return { pos: n, nonce: ring.nonce };
    }
    this.checkFaults();
    return { pos: head, nonce: ring.nonce };
  }

  /** A cursor as a consumer file stores it: the ring's nonce (0 before any ring) and the serial. */
  protected position(cursor: RingCursor): [number, number] {
    return [cursor.nonce ?? 0, cursor.pos];
  }

  /** The cursor a consumer's stored `(nonce, serial)` names. */
  protected resume(nonce: number, serial: number, consumer: string): RingCursor {
    const pos = serial % 2 ** 32;
    if (nonce === 0) return { pos: 0, nonce: undefined }; // stored before any ring existed
    const ring = this.#attach();
    if (ring?.nonce === nonce) {
      if (((ring.head() - pos) >>> 0) > 2 ** 31) {
        throw new DeepwaterError(
          "CORRUPT",
          `Consumer "${consumer}" of ring "${this.feed}" resumes at serial ${pos}, past the ring's head ${ring.head()}: the consumer file is damaged: remove the consumer (deepwater consumers ${this.feed} --remove ${consumer}) to start it again as new`,
          { path: this.ctx.paths.consumer(this.feed, consumer) },
        );
      }
    } else if (ring) {
      this.ctx.log.warn(
        `consumer "${consumer}" of ring "${this.feed}": the ring was re-created since its last run; the records of the old ring it had not acknowledged are gone`,
      );
    }
    // Another incarnation (or none yet): the pull restarts at its first record.
    return { pos, nonce };
  }

  /** Where a stream starts: the ring's head (a ring keeps no playback markers). */
  protected streamStart(o: StreamSettings): RingCursor {
    if (o.playback) {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Cannot play back "${this.feed}": rings keep no markers`,
      );
    }
    if (o.from !== undefined) return this.#fromStart(o.from);
    return this.#headCursor();
  }

  protected hasNews(cursor: RingCursor): boolean {
    const ring = this.#follow(cursor);
    return ring !== undefined && ring.head() !== cursor.pos;
  }

  protected block(cursor: RingCursor, signal: AbortSignal | undefined): Promise<void> {
    return this.#ring ? this.#block(this.#ring, cursor, signal) : Promise.resolve();
  }

  /** Follow a re-created ring (looking every 250 ms); with no ring, sleep 10 ms. */
  protected override idle(): Promise<void> | void {
    if (performance.now() - this.#lastReplacementCheck > 250) {
      this.#lastReplacementCheck = performance.now();
      this.#followReplacement();
    }
    if (!this.#ring) return new Promise<void>((r) => setTimeout(r, 10));
  }

  /** Switch to a new incarnation of the ring if the name now points elsewhere. */
  #followReplacement(): void {
    const ring = this.#ring;
    if (!ring) return;
    const nonce = currentNonce(this.#name);
    if (nonce === ring.nonce) return;
    ring.close();
    this.#ring = undefined;
    if (nonce !== undefined) this.#attach(); // a new incarnation: each cursor restarts at 0
  }

  #block(ring: RingMap, cursor: RingCursor, signal: AbortSignal | undefined): Promise<void> {
    // The reader's own aborter fires on close(), so a close ends the wait too.
    return ring.doorbell.wait(() => ring.head() !== cursor.pos, signal, this.closing.signal);
  }

  /**
   * Throw CORRUPT if the ring was truncated under this reader. The seqlock
   * already rejects zeroed slots; this tells the caller why records vanish.
   */
  protected checkFaults(): void {
    if (!this.#faults.changed) return;
    this.#faults.settle([this.#ring?.map], RING_FIX);
  }

  /** Unmap (once, from `close()`). */
  protected release(): void {
    this.#ring?.close();
  }
}
