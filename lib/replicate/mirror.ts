/**
 * The mirror: create the feed from the stream's spec message, then append
 * exact copies of the stream's records with `writeBatch`, resuming after its
 * own newest record.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import type { Platform } from "../platform.ts";
import type { FeedWriter } from "../feed/contract.ts";
import { computeLayout, type Layout } from "../schema/spec.ts";
import {
  type Progress,
  type ReplicateOptions,
  type Replicator,
  startReplicator,
} from "./handle.ts";
import {
  type BatchHeaders,
  DeliverPolicy,
  lastOn,
  type Link,
  link,
  nextOn,
  readBatchHeaders,
  sleep,
  streamState,
} from "./nats.ts";
import {
  checkSameLayout,
  comparePositions,
  formatPosition,
  type Names,
  namesOf,
  type Position,
  readSpecMessage,
  tsAt,
} from "./protocol.ts";

/**
 * Mirror a feed from its JetStream stream into `platform`, until closed.
 *
 * It waits for the server, the stream and its spec message; creates the feed
 * from the spec where it is missing (`SCHEMA_DRIFT` when a feed of that name
 * exists with another layout); then appends every record after its own
 * newest one, in order, as the publisher committed them. Its state is its own
 * data, so a mirror killed at any instant resumes with no duplicate and no
 * gap; `CORRUPT` when the stream no longer holds the records after its newest.
 *
 * @param platform where the mirror feed lives (kept open while it runs)
 * @param options the feed, the NATS URL, the stream
 * @returns the running mirror
 * @example
 * ```ts ignore
 * import { Platform } from "@deepwater/deepwater";
 * import { replicateMirror } from "@deepwater/deepwater/replicate";
 * using platform = new Platform("./replica");
 * const mirror = replicateMirror(platform, { feed: "trades", nats: "nats://10.0.0.5:4222" });
 * Deno.addSignalListener("SIGTERM", () => mirror.close());
 * await mirror.closed;
 * ```
 */
export function replicateMirror(platform: Platform, options: ReplicateOptions): Replicator {
  const names = namesOf(options.feed, options.stream);
  const log = options.log ?? (() => {});
  return startReplicator((signal, progress) =>
    mirror(platform, names, options, log, signal, progress)
  );
}

async function mirror(
  platform: Platform,
  names: Names,
  options: ReplicateOptions,
  log: (line: string) => void,
  signal: AbortSignal,
  progress: Progress,
): Promise<void> {
  const where = `JetStream stream "${names.stream}" at ${options.nats}`;
  const l = await link(options.nats, `deepwater mirror ${options.feed}`, signal, log);
  if (!l) return;
  let writer: FeedWriter | undefined;
  try {
    const layout = await prepareFeed(platform, l, names, options.feed, where, log, signal);
    if (!layout) return;
    writer = platform.createWriter(options.feed);
    while (!signal.aborted) {
      try {
        await follow(platform, writer, layout, l, names, where, signal, progress);
      } catch (e) {
        if (e instanceof Reseek) continue;
        if (e instanceof DeepwaterError) throw e;
        log(`mirror of "${options.feed}": ${e instanceof Error ? e.message : e}; retrying`);
        await sleep(250, signal);
      }
    }
  } finally {
    writer?.close();
    await l.nc.close().catch(() => {});
  }
}

/**
 * Wait for the stream's spec message, then create the local feed from it or
 * check the existing one against it.
 */
async function prepareFeed(
  platform: Platform,
  l: Link,
  names: Names,
  feed: string,
  where: string,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<Layout | undefined> {
  let warned = false;
  while (!signal.aborted) {
    let msg;
    try {
      // Ask for the stream first: a direct get from a missing stream waits out the request timeout.
      if (await streamState(l.jsm, names.stream)) {
        msg = await lastOn(l.jsm, names.stream, names.spec);
      }
    } catch {
      // The server is restarting: try again.
    }
    if (msg) {
      const incoming = readSpecMessage(msg.data, feed, where);
      if (platform.listFeeds().includes(feed)) {
        const spec = platform.getFeedInfo(feed).spec;
        checkSameLayout(
          { spec, layout: computeLayout(spec) },
          incoming,
          `the local feed in "${platform.basePath}"`,
        );
      } else {
        platform.createFeed(incoming.spec);
        log(`created feed "${feed}" in ${platform.basePath} from ${where}`);
      }
      return incoming.layout;
    }
    if (!warned) log(`waiting for ${where} and its spec message (start the publisher)`);
    warned = true;
    await sleep(250, signal);
  }
  return undefined;
}

/** The source position of the newest local record, from the local data alone. */
function localPosition(platform: Platform, feed: string, layout: Layout): Position | null {
  using reader = platform.createReader(feed, { bigint: true });
  const newest = reader.latest();
  if (!newest) return null;
  const ts = newest[layout.tsName] as bigint;
  return { ts, k: reader.count(ts, ts) - 1 };
}

/**
 * The sequence of the first data message whose last record comes after
 * `after` (a binary search with direct gets: positions grow with the stream
 * sequence), or the sequence after the stream's end.
 */
async function startSequence(
  l: Link,
  names: Names,
  after: Position | null,
  where: string,
): Promise<number> {
  const state = await streamState(l.jsm, names.stream);
  if (!state) return 1;
  if (after === null) return Math.max(state.first, 1);
  let lo = Math.max(state.first, 1), hi = state.last + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await nextOn(l.jsm, names.stream, names.data, mid);
    const h = m && readBatchHeaders(m.header, `message ${m.seq} of ${where}`);
    if (!m || comparePositions(h!.last, after) > 0) hi = mid;
    else lo = m.seq + 1;
  }
  return lo;
}

/**
 * A message that does not follow the mirror's newest record, met after the
 * first message of a consumer: the stream changed under the consumer (a
 * server killed before its file store had messages it had already delivered,
 * and the publisher sent those records again in other messages). Seeking
 * again from the mirror's own data settles it; only a break right after a
 * fresh seek is a real gap.
 */
class Reseek extends Error {}

/** Consume the stream from after the local newest record, appending, until aborted. */
async function follow(
  platform: Platform,
  writer: FeedWriter,
  layout: Layout,
  l: Link,
  names: Names,
  where: string,
  signal: AbortSignal,
  progress: Progress,
): Promise<void> {
  let last = localPosition(platform, writer.feed, layout);
  const start = await startSequence(l, names, last, where);
  const consumer = await l.js.consumers.get(names.stream, {
    filter_subjects: names.data,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: start,
  });
  // Pulls bounded by count, not bytes: a byte budget smaller than the next
  // message stalls the pull until it expires. Short pulls: a consumer whose
  // server restarted learns it within seconds.
  const messages = await consumer.consume({ max_messages: 32, expires: 2000 });
  const stop = () => void messages.close();
  signal.addEventListener("abort", stop, { once: true });
  // After a reconnect the server may hold less than it delivered (killed before
  // its file store had it): end this consumer, and seek again from the local data.
  const status = l.nc.status()[Symbol.asyncIterator]();
  void (async () => {
    for (let s = await status.next(); !s.done; s = await status.next()) {
      if (s.value.type === "reconnect") return stop();
    }
  })();
  let fresh = true;
  try {
    for await (const m of messages) {
      const at = `message ${m.seq} of ${where}`;
      const h = readBatchHeaders(m.headers, at);
      let appended;
      try {
        appended = apply(writer, layout, m.data, h, last, at);
      } catch (e) {
        if (!fresh && e instanceof DeepwaterError && e.code === "CORRUPT" && brokenChain.has(e)) {
          throw new Reseek();
        }
        throw e;
      }
      fresh = false;
      if (appended > 0) {
        last = h.last;
        progress.records += appended;
        progress.position = last;
      }
      if (signal.aborted) break;
    }
  } finally {
    signal.removeEventListener("abort", stop);
    void status.return?.();
    await messages.close();
  }
}

/** The errors that say a message does not continue the mirror's records. */
const brokenChain = new WeakSet<DeepwaterError>();

function chainBreak(code: "CORRUPT", message: string): DeepwaterError {
  const e = new DeepwaterError(code, message);
  brokenChain.add(e);
  return e;
}

/**
 * Append the records of one data message that come after `last`; returns
 * how many. A message wholly at or before `last` is a duplicate (a re-send
 * the duplicate window no longer caught, or a resume point): skipped.
 */
function apply(
  writer: FeedWriter,
  layout: Layout,
  data: Uint8Array,
  h: BatchHeaders,
  last: Position | null,
  at: string,
): number {
  const size = layout.recordSize;
  if (data.length !== h.count * size) {
    throw new DeepwaterError(
      "CORRUPT",
      `Cannot mirror ${at}: ${data.length} bytes for ${h.count} records of ${size} bytes: was the stream written by deepwater replicate publish?`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (tsAt(view, layout, 0) !== h.first.ts || tsAt(view, layout, h.count - 1) !== h.last.ts) {
    throw new DeepwaterError(
      "CORRUPT",
      `Cannot mirror ${at}: its records' timestamps disagree with its headers`,
    );
  }
  if (last !== null && comparePositions(h.last, last) <= 0) return 0;
  if (last === null || comparePositions(h.first, last) > 0) {
    if (last !== null && (h.prev === null || comparePositions(h.prev, last) !== 0)) {
      throw chainBreak(
        "CORRUPT",
        `Cannot mirror ${at}: it follows position ${
          h.prev ? formatPosition(h.prev) : "(none: a new feed)"
        } but the mirror's newest record is at ${
          formatPosition(last)
        }; the stream no longer holds the records between (JetStream limits removed them, or the stream was replaced): remove the mirror's feed and mirror again`,
      );
    }
    writer.writeBatch(data);
    return h.count;
  }
  // The message straddles `last`: find `last` inside it, append what follows.
  let pos: Position = h.first;
  for (let i = 0; i < h.count; i++) {
    if (i > 0) {
      const ts = tsAt(view, layout, i);
      pos = ts === pos.ts ? { ts, k: pos.k + 1 } : { ts, k: 0 };
    }
    if (comparePositions(pos, last) === 0) {
      writer.writeBatch(data.subarray((i + 1) * size));
      return h.count - i - 1;
    }
  }
  throw chainBreak(
    "CORRUPT",
    `Cannot mirror ${at}: it spans the mirror's newest record (${
      formatPosition(last)
    }) without holding it: the mirror's feed holds records this stream never carried; mirror into an empty feed`,
  );
}
