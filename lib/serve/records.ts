/**
 * A time range of records as a streamed HTTP body. The body pulls from the
 * reader's range iterator one block (about 64 KiB of text) at a time, only
 * when the client has taken the previous one, so a range of any size costs
 * the server a block of memory, not the range; the reader closes when the
 * body ends or the client goes away.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import type { FeedReader } from "../feed/contract.ts";
import type { DecodedRecord } from "../schema/codec.ts";
import type { RecordText } from "./encode.ts";

/** Text formats of a range. */
export type TextFormat = "jsonl" | "csv";

/** Content types of the text formats. */
export const CONTENT_TYPE: Record<TextFormat, string> = {
  jsonl: "application/jsonl; charset=utf-8",
  csv: "text/csv; charset=utf-8; header=present",
};

/** Text per block handed to the client (the server's memory per range request). */
const BLOCK_CHARS = 64 * 1024;

/** What {@linkcode rangeBody} streams. */
export interface RangeBody {
  /** Open reader of the feed; the body owns it and closes it. */
  reader: FeedReader;
  /** The feed's text forms. */
  text: RecordText;
  /** First timestamp (inclusive), or undefined for the oldest. */
  start: number | bigint | undefined;
  /** Last timestamp (inclusive), or undefined for the newest. */
  end: number | bigint | undefined;
  /** Most records to send. */
  limit: number;
  /** JSON lines or CSV. */
  format: TextFormat;
  /** Ends the body early (the server is closing): the client sees it cut short. */
  signal: AbortSignal;
  /** Called once when the body is done (finished, failed or cancelled). */
  onDone: (error?: unknown) => void;
}

/**
 * The streamed body of a range request.
 *
 * @param o the reader, range, format and limit
 * @returns a byte stream that reads a block each time the client wants more
 * @example
 * ```ts
 * import { Platform } from "../../mod.ts";
 * import { recordText } from "./encode.ts";
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
 *   const reader = platform.createReader("t", { bigint: true });
 *   const text = recordText(platform.getFeedInfo("t").layout);
 *   const body = rangeBody({
 *     reader, text, start: undefined, end: undefined, limit: 10, format: "jsonl",
 *     signal: new AbortController().signal, onDone: () => {},
 *   });
 *   console.assert(await new Response(body).text() === '{"price":1.5,"ts":10}\n');
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function rangeBody(o: RangeBody): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let records: Iterator<DecodedRecord> | undefined;
  let sent = 0;
  let done = false;
  let stopped: () => void = () => {};
  const finish = (error?: unknown) => {
    if (done) return;
    done = true;
    o.signal.removeEventListener("abort", stopped);
    try {
      records?.return?.();
    } finally {
      o.reader.close();
      o.onDone(error);
    }
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
    pull(controller) {
      try {
        let s = "";
        if (records === undefined) {
          records = o.reader.read(o.start, o.end);
          if (o.format === "csv") s = o.text.csvHeader + "\n";
        }
        const line = o.format === "csv" ? o.text.csv : o.text.json;
        while (s.length < BLOCK_CHARS) {
          if (sent >= o.limit) break;
          const r = records.next();
          if (r.done) break;
          s += line(r.value) + "\n";
          sent++;
        }
        if (s.length) controller.enqueue(enc.encode(s));
        if (s.length < BLOCK_CHARS) {
          controller.close();
          finish();
        }
      } catch (e) {
        // The status line is gone already: the client sees the body end early.
        controller.error(e);
        finish(e);
      }
    },
    cancel() {
      finish();
    },
  }, { highWaterMark: 0 });
}
