/**
 * A time range of records as a streamed HTTP body, in the export's formats
 * (lib/export is the one encoder of records). The body pulls raw batches
 * from the reader (`reader.batches()`) a group at a time (at most 64 KiB of
 * records), gathers each into columns (`batchColumns()`) and runs the
 * format's writer over them, only when the client has taken the previous
 * group's bytes, so a range of any size costs the server a batch of memory,
 * not the range. The reader closes when the body ends or the client goes away.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import type { FeedReader } from "../feed/contract.ts";
import { batchColumns } from "../feed/columns.ts";
import { type FormatName, openFormat } from "../export/export.ts";
import type { FormatWriter } from "../export/format.ts";
import { BufferSink } from "../export/sink.ts";

/** Formats of a range. */
export type RangeFormat = "jsonl" | "csv" | "arrow";

/** Content types of the range formats. */
export const CONTENT_TYPE: Record<RangeFormat, string> = {
  jsonl: "application/jsonl; charset=utf-8",
  csv: "text/csv; charset=utf-8; header=present",
  arrow: "application/vnd.apache.arrow.stream",
};

/**
 * The writer behind each range format: Arrow goes out as an IPC stream, which
 * a client reads from one body without seeking to a footer.
 */
const WRITER: Record<RangeFormat, FormatName> = {
  jsonl: "jsonl",
  csv: "csv",
  arrow: "arrow-stream",
};

/**
 * Raw bytes of records per group (one Arrow record batch): the body's
 * pieces stay small, so little waits in the server for a client that stops reading.
 */
const GROUP_BYTES = 64 * 1024;

/** What {@linkcode rangeBody} streams. */
export interface RangeBody {
  /** Open reader of the feed; the body owns it and closes it. */
  reader: FeedReader;
  /** First timestamp (inclusive), or undefined for the oldest. */
  start: number | bigint | undefined;
  /** Last timestamp (inclusive), or undefined for the newest. */
  end: number | bigint | undefined;
  /** Most records to send. */
  limit: number;
  /** JSON lines, CSV or an Arrow IPC stream. */
  format: RangeFormat;
  /** Ends the body early (the server is closing): the client sees it cut short. */
  signal: AbortSignal;
  /** Called once when the body is done (finished, failed or cancelled). */
  onDone: (error?: unknown) => void;
}

/**
 * The streamed body of a range request.
 *
 * @param o the reader, range, format and limit
 * @returns a byte stream that encodes a group each time the client wants more
 * @example
 * ```ts
 * import { Platform } from "../../mod.ts";
 * import { rangeBody } from "./records.ts";
 * const dir = Deno.makeTempDirSync();
 * {
 *   using platform = new Platform(dir, { log: { console: false } });
 *   platform.createFeed({
 *     feed_name: "t",
 *     fields: [{ name: "price", type: "float64" }, { name: "ts", type: "uint64" }],
 *     ts_col: "ts",
 *     chunk_size_mb: 0.0625,
 *   });
 *   using writer = platform.createWriter("t");
 *   writer.writeValues(1.5, 10);
 *   const body = rangeBody({
 *     reader: platform.createReader("t"), start: undefined, end: undefined, limit: 10,
 *     format: "jsonl", signal: new AbortController().signal, onDone: () => {},
 *   });
 *   console.assert(await new Response(body).text() === '{"price":1.5,"ts":10}\n');
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function rangeBody(o: RangeBody): ReadableStream<Uint8Array> {
  const layout = o.reader.layout;
  const rs = layout.recordSize;
  const groupRecords = Math.max(1, Math.floor(GROUP_BYTES / rs));
  const sink = new BufferSink();
  let writer: FormatWriter | undefined;
  let batches: Iterator<Uint8Array> | undefined;
  let batch: Uint8Array | undefined;
  let at = 0;
  let left = o.limit;
  let done = false;
  let stopped: () => void = () => {};

  const finish = (error?: unknown) => {
    if (done) return;
    done = true;
    o.signal.removeEventListener("abort", stopped);
    try {
      batches?.return?.();
    } finally {
      o.reader.close();
      o.onDone(error);
    }
  };

  /** The next group of whole records, the last one cut to the limit; undefined at the end. */
  const nextGroup = (): Uint8Array | undefined => {
    batches ??= o.reader.batches(o.start, o.end);
    if (left <= 0) return undefined;
    while (batch === undefined || at >= batch.length) {
      const r = batches.next();
      if (r.done) return undefined;
      batch = r.value;
      at = 0;
    }
    const n = Math.min(groupRecords, (batch.length - at) / rs, left);
    left -= n;
    return batch.subarray(at, at += n * rs);
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      stopped = () => {
        const e = new DeepwaterError("CLOSED", "The server closed while sending this range");
        controller.error(e);
        finish(e);
      };
      if (o.signal.aborted) stopped();
      else o.signal.addEventListener("abort", stopped, { once: true });
    },
    async pull(controller) {
      try {
        writer ??= await openFormat(WRITER[o.format], layout, sink);
        // Encode groups until the client has something: the Arrow writer hands
        // its bytes over asynchronously, so a group may leave nothing yet.
        let ended = false;
        while (sink.size === 0 && !done) {
          const group = nextGroup();
          if (group === undefined) {
            await writer.finish();
            ended = true;
            break;
          }
          await writer.write(batchColumns(group, layout), group.length / rs);
        }
        // Cancelled or closed while a write was awaited: the stream is gone.
        if (done) return;
        if (sink.size > 0) controller.enqueue(sink.take());
        if (ended) {
          controller.close();
          finish();
        }
      } catch (e) {
        // The status line is gone already: the client sees the body end early.
        if (done) return;
        controller.error(e);
        finish(e);
      }
    },
    cancel() {
      finish();
    },
  }, { highWaterMark: 0 });
}
