/**
 * A live feed over Server-Sent Events or a WebSocket.
 *
 * Raw batches from the reader's `streamBatches()` (from the live head, or
 * replaying history from `from` and continuing live with no gap and no
 * duplicate) become one message each, written by the export's JSON-lines
 * writer (lib/export is the one encoder of records) and sent as a JSON array:
 * a batch is what was committed since the last one, up to 8 KiB of records,
 * so a busy feed costs a message per millisecond or so, not one per record.
 * Each connection may hold `maxBufferBytes` (plus one message) of messages
 * the client has not taken yet: past that the client is too slow for the
 * feed, so it gets a final `dropped` message and the connection ends,
 * instead of the server buffering without bound. The reader closes when the
 * client goes away, the feed ends, or the server closes.
 *
 * Messages (SSE event name, or the WebSocket message's `type`):
 * - `records`: a JSON array of records (64-bit integers as exact digits)
 * - `overrun`: `{ lost }`, records a ring overwrote before this client read them
 * - `dropped`: `{ code: "SLOW_CONSUMER", message }`, then the end
 * - `error`: `{ code, message }`, then the end
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import type { FeedReader } from "../feed/contract.ts";
import { batchColumns } from "../feed/columns.ts";
import { openJsonl } from "../export/text.ts";
import { BufferSink } from "../export/sink.ts";

/** Raw bytes of records per message at most (a few tens of KiB of JSON). */
const MESSAGE_BYTES = 8 * 1024;

/** One live connection's settings and its ties to the server. */
export interface LiveOptions {
  /** Open reader of the feed; the connection owns it and closes it. */
  reader: FeedReader;
  /**
   * Replay from the first record at or after this time (µs), then continue
   * live; undefined starts at the live head.
   */
  from: number | bigint | undefined;
  /** Most bytes of unsent messages one connection may hold. */
  maxBufferBytes: number;
  /** Interval of SSE comment lines that keep idle connections open, in milliseconds. */
  keepAliveMs: number;
  /** Ends the connection (the server is closing). */
  signal: AbortSignal;
  /** Told about records a ring overwrote before this connection read them. */
  onOverrun: (lost: number) => void;
  /** Called once when the connection ends; `dropped` when it ended for a slow client. */
  onDone: (dropped: boolean) => void;
}

/** Where a connection's messages go. */
interface Sink {
  /** Hand over one message; false when the client is too slow to take it. */
  send(type: string, json: string): boolean;
  /** End the connection. */
  end(): void;
}

/** What every connection does: tail the reader into a sink, batched, until stopped. */
class Tail {
  readonly #o: LiveOptions;
  readonly #sink: Sink;
  readonly #stop = new AbortController();
  #ended = false;
  #dropped = false;

  constructor(o: LiveOptions, sink: Sink) {
    this.#o = o;
    this.#sink = sink;
    o.signal.addEventListener("abort", this.end, { once: true });
  }

  async run(): Promise<void> {
    try {
      const reader = this.#o.reader;
      const layout = reader.layout;
      const lines = new BufferSink();
      const jsonl = openJsonl(layout, lines);
      const decoder = new TextDecoder();
      const batches = reader.streamBatches({
        signal: this.#stop.signal,
        maxBytes: MESSAGE_BYTES,
        onOverrun: (lost) => {
          this.#o.onOverrun(lost);
          this.#send("overrun", JSON.stringify({ lost }));
        },
        ...(this.#o.from === undefined ? {} : { from: this.#o.from }),
      });
      for await (const batch of batches) {
        await jsonl.write(batchColumns(batch, layout), batch.length / layout.recordSize);
        // One JSON line per record, so the line ends (a JSON string escapes
        // its own) are exactly where an array puts its commas.
        const text = decoder.decode(lines.take());
        this.#send("records", `[${text.slice(0, -1).replaceAll("\n", ",")}]`);
      }
    } catch (e) {
      if (!this.#ended) {
        const body = e instanceof DeepwaterError
          ? { code: e.code, message: e.message }
          : { code: "INTERNAL", message: "The live stream failed: see the server's log" };
        this.#send("error", JSON.stringify(body));
      }
    } finally {
      this.end();
    }
  }

  #send(type: string, json: string): void {
    if (this.#ended) return;
    if (this.#sink.send(type, json)) return;
    this.#dropped = true;
    this.#sink.send(
      "dropped",
      JSON.stringify({
        code: "SLOW_CONSUMER",
        message:
          `The client fell more than ${this.#o.maxBufferBytes} bytes behind the feed "${this.#o.reader.feed}": read faster, or ask for a time range instead`,
      }),
    );
    this.end();
  }

  /** Stop tailing, close the reader and the connection (idempotent). */
  readonly end = (): void => {
    if (this.#ended) return;
    this.#ended = true;
    this.#stop.abort();
    this.#o.signal.removeEventListener("abort", this.end);
    try {
      this.#o.reader.close();
      this.#sink.end();
    } finally {
      this.#o.onDone(this.#dropped);
    }
  };
}

/**
 * A live feed as a Server-Sent Events response.
 *
 * @param o reader, limits and hooks
 * @returns the `text/event-stream` response
 * @example
 * ```ts
 * import { Platform } from "../../mod.ts";
 * import { sseResponse } from "./live.ts";
 * const dir = Deno.makeTempDirSync();
 * {
 *   using platform = new Platform(dir, { log: { console: false } });
 *   platform.createFeed({
 *     feed_name: "t",
 *     fields: [{ name: "price", type: "float64" }, { name: "ts", type: "uint64" }],
 *     ts_col: "ts",
 *     chunk_size_mb: 0.0625,
 *   });
 *   const stop = new AbortController();
 *   const res = sseResponse({
 *     reader: platform.createReader("t"),
 *     from: undefined,
 *     maxBufferBytes: 1 << 20,
 *     keepAliveMs: 15_000,
 *     signal: stop.signal,
 *     onOverrun: () => {},
 *     onDone: () => {},
 *   });
 *   console.assert(res.headers.get("content-type") === "text/event-stream");
 *   stop.abort();
 *   await res.body?.cancel();
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function sseResponse(o: LiveOptions): Response {
  const enc = new TextEncoder();
  let tail: Tail | undefined;
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const sink: Sink = {
        send(type, json) {
          if (closed) return false;
          // desiredSize is what the buffer has left: a message goes in while
          // any room is left (so it holds at most the limit plus one message),
          // and the dropped notice always does.
          if (type !== "dropped" && (controller.desiredSize ?? 0) <= 0) return false;
          controller.enqueue(enc.encode(`event: ${type}\ndata: ${json}\n\n`));
          return true;
        },
        end() {
          clearInterval(keepAlive);
          if (closed) return;
          closed = true;
          controller.close();
        },
      };
      tail = new Tail(o, sink);
      // The first bytes tell the client the stream is open (and EventSource to
      // reconnect after a second if it drops).
      controller.enqueue(enc.encode(`retry: 1000\n: live feed "${o.reader.feed}"\n\n`));
      keepAlive = setInterval(() => {
        if (!closed && (controller.desiredSize ?? 0) > 0) controller.enqueue(enc.encode(":\n\n"));
      }, o.keepAliveMs);
      void tail.run();
    },
    cancel() {
      // The client went away: the stream is closed already.
      closed = true;
      tail?.end();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: o.maxBufferBytes }));
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}

/**
 * A live feed over a WebSocket: upgrades the request and sends each message
 * as JSON text, `{ "type": ..., ... }` (`records` carry a `records` array).
 *
 * @param req the upgrade request
 * @param o reader, limits and hooks
 * @returns the 101 response
 * @example
 * ```ts ignore
 * import { wsResponse } from "./live.ts";
 * // In a Deno.serve handler, for a request with `Upgrade: websocket`:
 * // return wsResponse(req, { reader, from, maxBufferBytes, keepAliveMs, signal, onOverrun, onDone });
 * ```
 */
export function wsResponse(req: Request, o: LiveOptions): Response {
  const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 60 });
  const sink: Sink = {
    send(type, json) {
      if (socket.readyState !== WebSocket.OPEN) return false;
      const msg = type === "records"
        ? `{"type":"records","records":${json}}`
        : `{"type":"${type}",${json.slice(1)}`;
      if (type !== "dropped" && socket.bufferedAmount > o.maxBufferBytes) return false;
      socket.send(msg);
      return true;
    },
    end() {
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
        socket.close(1000, "end of stream");
      }
    },
  };
  const tail = new Tail(o, sink);
  socket.onopen = () => void tail.run();
  socket.onclose = () => tail.end();
  socket.onerror = () => tail.end();
  return response;
}
