/**
 * The publisher: every committed record of a feed, in order and batched, to
 * the feed's JetStream stream, resuming after what the stream already holds.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import type { Platform } from "../platform.ts";
import { computeLayout, type Layout } from "../schema/spec.ts";
import {
  type Progress,
  type ReplicateOptions,
  type Replicator,
  startReplicator,
} from "./handle.ts";
import {
  batchHeaders,
  ensureStream,
  lastOn,
  type Link,
  link,
  readBatchHeaders,
  sleep,
  streamState,
} from "./nats.ts";
import {
  checkSameLayout,
  comparePositions,
  formatPosition,
  MAX_BATCH_BYTES,
  type Names,
  namesOf,
  type Position,
  readSpecMessage,
  specMessage,
} from "./protocol.ts";

/** Options of {@linkcode replicatePublish}. */
export interface PublishOptions extends ReplicateOptions {
  /** Largest message payload in bytes (default 256 KiB, at most 1 MiB; at least one record). */
  batchBytes?: number;
  /** Messages awaiting their acknowledgement at once (default 32). */
  window?: number;
}

/**
 * Publish a feed of `platform` to its JetStream stream, until closed.
 *
 * It creates the stream where it is missing (file storage, a 2-minute
 * duplicate window), puts the feed's spec on it (`SCHEMA_DRIFT` when the
 * stream carries another layout), reads the position of the stream's newest
 * record and sends every committed record after it: history first, then
 * live, batched, each message with a `Nats-Msg-Id` from its first record's
 * position. On a lost connection or a refused publish it waits for the
 * server and resumes from what the stream holds, so nothing is skipped and
 * nothing stored twice.
 *
 * @param platform where the feed lives (kept open while it runs)
 * @param options the feed, the NATS URL, the stream, batch size
 * @returns the running publisher
 * @example
 * ```ts ignore
 * import { Platform } from "@deepwater/deepwater";
 * import { replicatePublish } from "@deepwater/deepwater/replicate";
 * using platform = new Platform("./data");
 * const publisher = replicatePublish(platform, { feed: "trades", nats: "nats://127.0.0.1:4222" });
 * Deno.addSignalListener("SIGTERM", () => publisher.close());
 * await publisher.closed;
 * ```
 */
export function replicatePublish(platform: Platform, options: PublishOptions): Replicator {
  const names = namesOf(options.feed, options.stream);
  const batchBytes = options.batchBytes ?? 256 * 1024;
  const window = options.window ?? 32;
  if (!Number.isInteger(batchBytes) || batchBytes < 1 || batchBytes > MAX_BATCH_BYTES) {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `Cannot publish: batchBytes is ${batchBytes}: give an integer from 1 to ${MAX_BATCH_BYTES}`,
    );
  }
  if (!Number.isInteger(window) || window < 1 || window > 1024) {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `Cannot publish: window is ${window}: give an integer from 1 to 1024`,
    );
  }
  const spec = platform.getFeedInfo(options.feed).spec;
  const layout = computeLayout(spec);
  const log = options.log ?? (() => {});
  const perMessage = Math.max(1, Math.floor(batchBytes / layout.recordSize));
  return startReplicator(async (signal, progress) => {
    const where = `JetStream stream "${names.stream}" at ${options.nats}`;
    const l = await link(options.nats, `deepwater publish ${options.feed}`, signal, log);
    if (!l) return;
    try {
      while (!signal.aborted) {
        try {
          await ensureStream(l.jsm, names);
          await putSpec(l, names, { spec, layout }, where);
          await session(
            { platform, feed: options.feed, l, names, layout, perMessage, window, where, progress },
            signal,
          );
        } catch (e) {
          if (e instanceof DeepwaterError) throw e;
          log(`publisher of "${options.feed}": ${e instanceof Error ? e.message : e}; resuming`);
          await sleep(250, signal);
        }
      }
    } finally {
      await l.nc.close().catch(() => {});
    }
  });
}

/** Put the spec message on the stream, or check the one there. */
async function putSpec(
  l: Link,
  names: Names,
  source: ReturnType<typeof readSpecMessage>,
  where: string,
): Promise<void> {
  const there = await lastOn(l.jsm, names.stream, names.spec);
  if (there) {
    checkSameLayout(readSpecMessage(there.data, source.spec.feed_name, where), source, where);
    return;
  }
  const body = new TextEncoder().encode(JSON.stringify(specMessage(source.spec)));
  await l.js.publish(names.spec, body, { msgID: `spec:${source.layout.descriptor}` });
}

/** What one publishing session works with: the feed, the connection and the stream. */
interface PublishJob {
  platform: Platform;
  feed: string;
  l: Link;
  names: Names;
  layout: Layout;
  /** Most records in one message. */
  perMessage: number;
  /** Most publishes awaiting their acknowledgement. */
  window: number;
  /** The stream and server, for messages. */
  where: string;
  progress: Progress;
}

/**
 * One connected run: resume after the stream's newest record and publish
 * until aborted, until a publish fails, or until the connection comes back
 * after a loss; the caller then calls again, and the stream decides where to
 * resume. A reconnect counts because a server killed before its file store
 * had the newest messages may have acknowledged what it no longer holds.
 */
async function session(job: PublishJob, signal: AbortSignal): Promise<void> {
  const { l } = job;
  const run = new AbortController();
  const stop = () => run.abort();
  signal.addEventListener("abort", stop, { once: true });
  const status = l.nc.status()[Symbol.asyncIterator]();
  void (async () => {
    for (let s = await status.next(); !s.done; s = await status.next()) {
      if (s.value.type === "reconnect") return stop();
    }
  })();
  try {
    await publishFrom(job, run.signal);
  } finally {
    signal.removeEventListener("abort", stop);
    void status.return?.();
  }
}

/** The body of {@linkcode session}: publish until `signal` aborts or a publish fails. */
async function publishFrom(job: PublishJob, signal: AbortSignal): Promise<void> {
  const { platform, feed, l, names, layout, perMessage, window, where, progress } = job;
  const newest = await lastOn(l.jsm, names.stream, names.data);
  let prev: Position | null = newest
    ? readBatchHeaders(newest.header, `message ${newest.seq} of ${where}`).last
    : null;
  let seq = (await streamState(l.jsm, names.stream))?.last ?? 0;
  const size = layout.recordSize;
  const inFlight: Promise<unknown>[] = [];
  // Timestamps are compared as two 32-bit halves: exact, and no BigInt per record.
  // The replay restarts at the first record of the newest timestamp the
  // stream holds, so k counts again from 0 there.
  let hi = 0, lo = 0, k = -1;
  if (prev) {
    hi = Number(prev.ts >> 32n);
    lo = Number(prev.ts & 0xffff_ffffn);
  }
  let skipping = prev !== null;
  const resumeAt = prev;
  using reader = platform.createReader(feed);
  let stopped: { error: unknown } | undefined;
  try {
    for await (
      const batch of reader.streamBatches({
        from: prev?.ts ?? 0,
        maxBytes: perMessage * size,
        signal,
      })
    ) {
      const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
      const n = batch.length / size;
      let start = 0;
      let first: Position | null = null;
      for (let i = 0; i < n; i++) {
        const off = i * size + layout.tsOffset;
        const tlo = view.getUint32(off, true), thi = view.getUint32(off + 4, true);
        if (thi === hi && tlo === lo) k++;
        else if (thi > hi || (thi === hi && tlo > lo) || k < 0) {
          hi = thi;
          lo = tlo;
          k = 0;
        } else {
          throw new DeepwaterError(
            "INVALID_VALUE",
            `Cannot publish feed "${feed}": a record's timestamp ${
              thi * 2 ** 32 + tlo
            } comes after ${
              hi * 2 ** 32 + lo
            } in write order; replication carries feeds whose timestamps never go backwards: publish a feed written in time order`,
          );
        }
        // On resume the source replays from the newest timestamp the stream holds; skip what it has.
        if (skipping) {
          if (comparePositions(position(hi, lo, k), resumeAt!) <= 0) {
            start = i + 1;
            continue;
          }
          skipping = false;
        }
        if (first === null) first = position(hi, lo, k);
        if (i + 1 - start === perMessage || i === n - 1) {
          const last = position(hi, lo, k);
          const count = i + 1 - start;
          const h = batchHeaders({ first, last, prev, count });
          const ack = l.js.publish(names.data, batch.subarray(start * size, (i + 1) * size), {
            msgID: formatPosition(first),
            headers: h,
            expect: { lastSequence: seq++ },
          });
          // Settled below, in order; a refusal seen first by nobody must not end the process.
          ack.then(() => {
            progress.records += count;
            progress.position = last;
          }, () => {});
          inFlight.push(ack);
          prev = last;
          first = null;
          start = i + 1;
          if (inFlight.length >= window) await inFlight.shift();
        }
      }
    }
  } catch (error) {
    stopped = { error };
  }
  // Whatever happens, the batches already sent are awaited (a stop finishes them).
  const settled = await Promise.allSettled(inFlight);
  if (stopped) throw stopped.error;
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** The position of a timestamp given as 32-bit halves, with its index among equals. */
function position(hi: number, lo: number, k: number): Position {
  return { ts: (BigInt(hi) << 32n) | BigInt(lo), k };
}
