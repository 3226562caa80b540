/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4): per
 * feed its records, bytes, the age of its newest record, whether a writer
 * holds it, and the records rings overwrote before this server's live
 * clients read them; per process the readers and live connections open.
 *
 * @module
 */
import type { Platform } from "../platform.ts";
import { BasePaths } from "../directory/paths.ts";
import { FileLock } from "../native/lock.ts";

/** The content type Prometheus scrapes. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Counters the server keeps for `/metrics`. */
export interface ServerCounters {
  /** Readers open now (range requests and live connections). */
  openReaders: number;
  /** Live connections open now. */
  liveConnections: number;
  /** Live connections ended because the client was too slow. */
  slowConsumersDropped: number;
  /** Records rings overwrote before a live client read them, by feed. */
  ringLost: Map<string, number>;
}

/**
 * A label value as the exposition format writes it: backslash, double
 * quote and line feed escaped.
 *
 * @param v the raw value
 * @returns the escaped value (without the surrounding quotes)
 * @example
 * ```ts
 * import { escapeLabel } from "./metrics.ts";
 * console.assert(escapeLabel('a"b\\c\nd') === 'a\\"b\\\\c\\nd');
 * ```
 */
export function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** One metric family: its HELP and TYPE lines and samples. */
class Family {
  readonly lines: string[];
  constructor(readonly name: string, type: "gauge" | "counter", help: string) {
    this.lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  }
  add(value: number, labels: Record<string, string> = {}): void {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
    this.lines.push(`${this.name}${l ? `{${l}}` : ""} ${formatValue(value)}`);
  }
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/**
 * The metrics page of a platform and a server.
 *
 * @param platform the (read-only) platform served
 * @param counters the server's own counters
 * @param nowUs "now" in microseconds since the epoch
 * @param onError told about a feed whose statistics could not be read
 * @returns the exposition text
 * @example
 * ```ts
 * import { Platform } from "../../mod.ts";
 * import { metricsText } from "./metrics.ts";
 * const dir = Deno.makeTempDirSync();
 * {
 *   using platform = new Platform(dir, { log: { console: false } });
 *   const counters = {
 *     openReaders: 0, liveConnections: 0, slowConsumersDropped: 0, ringLost: new Map(),
 *   };
 *   console.assert(metricsText(platform, counters, Date.now() * 1000).includes(
 *     "# TYPE deepwater_serve_open_readers gauge",
 *   ));
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function metricsText(
  platform: Platform,
  counters: ServerCounters,
  nowUs: number,
  onError?: (feed: string, e: unknown) => void,
): string {
  const paths = new BasePaths(platform.basePath);
  const up = new Family(
    "deepwater_feed_up",
    "gauge",
    "1 when the feed's statistics could be read, 0 when they failed (see the server's log)",
  );
  const records = new Family("deepwater_feed_records", "gauge", "Committed records retained");
  const bytes = new Family(
    "deepwater_feed_bytes",
    "gauge",
    "Bytes the feed occupies: chunk files and registry on disk, or its shared-memory ring",
  );
  const age = new Family(
    "deepwater_feed_newest_age_seconds",
    "gauge",
    "Seconds since the newest record's timestamp (absent while the feed is empty)",
  );
  const alive = new Family(
    "deepwater_feed_writer_alive",
    "gauge",
    "1 while a process holds the feed's writer lock",
  );
  const lost = new Family(
    "deepwater_ring_lost_records_total",
    "counter",
    "Records a shared-memory ring overwrote before this server's live clients read them",
  );
  for (const name of platform.listFeeds()) {
    const feed = { feed: name };
    try {
      const info = platform.getFeedInfo(name);
      const held = FileLock.probe(paths.writerLock(name), "Cannot probe the writer lock");
      records.add(info.recordCount, feed);
      bytes.add(info.ring ? (info.ring.exists ? info.ring.bytes : 0) : info.bytesOnDisk, feed);
      if (info.lastTs !== null) age.add(Math.max(0, (nowUs - info.lastTs) / 1e6), feed);
      alive.add(held ? 1 : 0, feed);
      if (!info.spec.persist) lost.add(counters.ringLost.get(name) ?? 0, feed);
      up.add(1, feed);
    } catch (e) {
      onError?.(name, e);
      up.add(0, feed);
    }
  }
  const readers = new Family(
    "deepwater_serve_open_readers",
    "gauge",
    "Feed readers this server holds open (range requests and live connections)",
  );
  readers.add(counters.openReaders);
  const live = new Family(
    "deepwater_serve_live_connections",
    "gauge",
    "Live Server-Sent Events and WebSocket connections open",
  );
  live.add(counters.liveConnections);
  const dropped = new Family(
    "deepwater_serve_slow_consumers_dropped_total",
    "counter",
    "Live connections ended because the client fell too far behind",
  );
  dropped.add(counters.slowConsumersDropped);
  return [up, records, bytes, age, alive, lost, readers, live, dropped]
    .flatMap((f) => f.lines).join("\n") + "\n";
}
