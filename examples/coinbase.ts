/**
 * Coinbase Exchange market data into two Deepwater feeds: the message
 * handling half of `examples/recorder.ts`, kept apart from the socket so it
 * can be tested with plain strings.
 *
 * Channels (Coinbase Exchange public WebSocket, `wss://ws-feed.exchange.coinbase.com`):
 * - `matches`: one `match` per trade (a `last_match` right after subscribing,
 *   repeating the newest trade) into {@linkcode TRADES_FEED}.
 * - `ticker`: best bid and ask after trades (throttled, plus a snapshot
 *   right after subscribing) into {@linkcode QUOTES_FEED}.
 * - `heartbeat`: one a second per product; only keeps the idle watchdog quiet.
 *
 * Gaps. Coinbase's `sequence` counts every order-book event of a product,
 * so a client subscribed to `matches` alone sees it jump on every trade;
 * `trade_id` counts the product's trades one by one, so a jump in it is a
 * trade this recorder never received (a reconnect window, or a message the
 * exchange dropped). Each jump is logged and counted. A `trade_id` (or, for
 * quotes, a `sequence`) at or below the last one recorded for the product is
 * the repeat a resubscription sends: it is counted as a duplicate and not
 * written, so every trade and quote lands exactly once.
 *
 * @module
 */
import type { FeedReader, FeedSpec, FeedWriter, Platform } from "../mod.ts";
import { DeepwaterError } from "../mod.ts";

/** Feed of trades (`matches` channel). */
export const TRADES_FEED = "coinbase.trades";
/** Feed of top-of-book quotes (`ticker` channel). */
export const QUOTES_FEED = "coinbase.quotes";

/** Longest product id a record holds (Coinbase's are like `BTC-USD`, `SHIB-USDC`). */
const PRODUCT_BYTES = 16;

/**
 * The trades feed: one 72-byte record per trade.
 *
 * @param chunkMb chunk size (64 MB holds about 930 k trades)
 * @returns the spec
 */
export function tradesSpec(chunkMb = 64): FeedSpec {
  return {
    feed_name: TRADES_FEED,
    mode: "UF",
    fields: [
      { name: "timestamp_us", type: "uint64", desc: "Exchange trade time (µs since the epoch)" },
      { name: "recv_us", type: "uint64", desc: "Local receive time (µs since the epoch)" },
      { name: "trade_id", type: "uint64", desc: "Per-product trade number (consecutive)" },
      { name: "sequence", type: "uint64", desc: "Per-product order-book sequence" },
      { name: "price", type: "float64" },
      { name: "size", type: "float64" },
      { name: "product_id", type: "string", length: PRODUCT_BYTES },
      { name: "side", type: "char", desc: "Maker side: 'b' buy (taker sold), 's' sell" },
      { type: "_7" },
    ],
    ts_col: "timestamp_us",
    chunk_size_mb: chunkMb,
    retention_hours: 72,
  };
}

/**
 * The quotes feed: best bid and ask, one 72-byte record per ticker message.
 *
 * @param chunkMb chunk size
 * @returns the spec
 */
export function quotesSpec(chunkMb = 64): FeedSpec {
  return {
    feed_name: QUOTES_FEED,
    mode: "UF",
    fields: [
      { name: "timestamp_us", type: "uint64", desc: "Exchange time (µs since the epoch)" },
      { name: "recv_us", type: "uint64", desc: "Local receive time (µs since the epoch)" },
      { name: "sequence", type: "uint64", desc: "Per-product order-book sequence" },
      { name: "bid", type: "float64" },
      { name: "bid_size", type: "float64" },
      { name: "ask", type: "float64" },
      { name: "ask_size", type: "float64" },
      { name: "product_id", type: "string", length: PRODUCT_BYTES },
    ],
    ts_col: "timestamp_us",
    chunk_size_mb: chunkMb,
    retention_hours: 24,
  };
}

/**
 * The subscribe request for the products (Coinbase's JSON shape).
 *
 * @param products product ids such as `BTC-USD`
 * @returns the message text to send once the socket is open
 */
export function subscribeMessage(products: string[]): string {
  return JSON.stringify({
    type: "subscribe",
    product_ids: products,
    channels: ["matches", "ticker", "heartbeat"],
  });
}

/**
 * An exchange timestamp (`2024-05-01T12:00:00.123456Z`) in microseconds,
 * exactly (`Date.parse` keeps milliseconds only).
 *
 * @param iso the `time` field
 * @returns microseconds since the epoch, or NaN when it is not such a time
 */
export function parseTimeUs(iso: unknown): number {
  if (typeof iso !== "string") return NaN;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6})\d*)?Z$/.exec(iso);
  if (!m) return NaN;
  const seconds = Date.parse(`${m[1]}Z`);
  return seconds * 1000 + Number((m[2] ?? "").padEnd(6, "0"));
}

/** What the handler has seen, for logs and the final report. */
export interface RecorderStats {
  /** Messages handled (every type). */
  messages: number;
  /** Trades written. */
  trades: number;
  /** Quotes written. */
  quotes: number;
  /** Repeats skipped (resubscription snapshots). */
  duplicates: number;
  /** Jumps in a product's `trade_id`. */
  gaps: number;
  /** Trades missing across all gaps. */
  missing: number;
  /** Messages that could not be parsed or stored. */
  rejected: number;
  /** `error` messages from the exchange. */
  errors: number;
}

/** A structured log event (one JSON line in the recorder). */
export type LogEvent = { event: string } & Record<string, unknown>;

/** Fields of a Coinbase message this module reads. */
interface Message {
  type?: unknown;
  product_id?: unknown;
  trade_id?: unknown;
  sequence?: unknown;
  time?: unknown;
  price?: unknown;
  size?: unknown;
  side?: unknown;
  best_bid?: unknown;
  best_bid_size?: unknown;
  best_ask?: unknown;
  best_ask_size?: unknown;
  message?: unknown;
  reason?: unknown;
  channels?: unknown;
}

/**
 * Parses Coinbase messages and writes trades and quotes. Not tied to a
 * socket: `handle()` takes the text of one message.
 */
export class CoinbaseHandler {
  /** Counters since this handler was made. */
  readonly stats: RecorderStats = {
    messages: 0,
    trades: 0,
    quotes: 0,
    duplicates: 0,
    gaps: 0,
    missing: 0,
    rejected: 0,
    errors: 0,
  };
  readonly #trades: FeedWriter;
  readonly #quotes: FeedWriter;
  readonly #log: (e: LogEvent) => void;
  /** Last trade_id recorded per product. */
  readonly #lastTrade = new Map<string, number>();
  /** Last ticker sequence recorded per product. */
  readonly #lastQuote = new Map<string, number>();

  /**
   * @param trades writer of {@linkcode TRADES_FEED}
   * @param quotes writer of {@linkcode QUOTES_FEED}
   * @param log receives gaps, rejects and exchange errors
   */
  constructor(trades: FeedWriter, quotes: FeedWriter, log: (e: LogEvent) => void) {
    this.#trades = trades;
    this.#quotes = quotes;
    this.#log = log;
  }

  /**
   * Continue after what the feeds already hold, so a restarted recorder
   * neither writes the exchange's repeat of the newest trade again nor misses
   * a gap across the restart. Looks at the last `windowUs` of each feed.
   *
   * @param trades reader of the trades feed
   * @param quotes reader of the quotes feed
   * @param windowUs how far back from each feed's newest record to look
   */
  resume(trades: FeedReader, quotes: FeedReader, windowUs = 3_600_000_000): void {
    for (
      const [reader, key, last] of [
        [trades, "trade_id", this.#lastTrade],
        [quotes, "sequence", this.#lastQuote],
      ] as const
    ) {
      const newest = reader.latest();
      if (!newest) continue;
      for (const r of reader.read(Number(newest.timestamp_us) - windowUs)) {
        const product = r.product_id as string;
        last.set(product, Math.max(last.get(product) ?? 0, r[key] as number));
      }
    }
  }

  /**
   * Handle one message. A message that cannot be parsed or stored is
   * counted and logged, never thrown; storage failures (`CLOSED`, `IO`, ...)
   * are thrown.
   *
   * @param text the message's JSON text
   * @param recvUs when it arrived, in microseconds since the epoch
   */
  handle(text: string, recvUs: number): void {
    this.stats.messages++;
    let m: Message;
    try {
      m = JSON.parse(text);
    } catch {
      return this.#reject("not JSON", text);
    }
    try {
      switch (m?.type) {
        case "match":
        case "last_match":
          return this.#trade(m, recvUs, text);
        case "ticker":
          return this.#quote(m, recvUs, text);
        case "heartbeat":
          return;
        case "subscriptions":
          return this.#log({ event: "subscribed", channels: m.channels });
        case "error":
          this.stats.errors++;
          return this.#log({ event: "exchange_error", message: m.message, reason: m.reason });
        default:
          return; // other channels are not recorded
      }
    } catch (e) {
      if (e instanceof DeepwaterError && e.code === "INVALID_VALUE") {
        return this.#reject(e.message, text);
      }
      throw e;
    }
  }

  #trade(m: Message, recvUs: number, text: string): void {
    const product = m.product_id, id = m.trade_id, ts = parseTimeUs(m.time);
    const price = Number(m.price), size = Number(m.size);
    if (
      typeof product !== "string" || !Number.isSafeInteger(id) || !(ts > 0) ||
      !(price > 0) || !(size > 0) || (m.side !== "buy" && m.side !== "sell")
    ) return this.#reject("incomplete match", text);
    const tradeId = id as number;
    const last = this.#lastTrade.get(product);
    if (last !== undefined && tradeId <= last) {
      this.stats.duplicates++;
      return;
    }
    if (last !== undefined && tradeId > last + 1) {
      this.stats.gaps++;
      this.stats.missing += tradeId - last - 1;
      this.#log({ event: "gap", product, after: last, next: tradeId, missing: tradeId - last - 1 });
    }
    this.#trades.writeValues(
      ts,
      recvUs,
      tradeId,
      Number(m.sequence) || 0,
      price,
      size,
      product,
      m.side === "buy" ? "b" : "s",
    );
    this.#lastTrade.set(product, tradeId);
    this.stats.trades++;
  }

  #quote(m: Message, recvUs: number, text: string): void {
    const product = m.product_id, seq = m.sequence, ts = parseTimeUs(m.time);
    const bid = Number(m.best_bid), bidSize = Number(m.best_bid_size);
    const ask = Number(m.best_ask), askSize = Number(m.best_ask_size);
    if (
      typeof product !== "string" || !Number.isSafeInteger(seq) || !(ts > 0) ||
      !(bid > 0) || !(ask > 0) || !(bidSize >= 0) || !(askSize >= 0)
    ) return this.#reject("incomplete ticker", text);
    const sequence = seq as number;
    const last = this.#lastQuote.get(product);
    if (last !== undefined && sequence <= last) {
      this.stats.duplicates++;
      return;
    }
    this.#quotes.writeValues(ts, recvUs, sequence, bid, bidSize, ask, askSize, product);
    this.#lastQuote.set(product, sequence);
    this.stats.quotes++;
  }

  #reject(why: string, text: string): void {
    this.stats.rejected++;
    this.#log({ event: "rejected", why, message: text.slice(0, 200) });
  }
}

/**
 * Create both feeds (idempotent) and open their writers, resumed after what
 * the feeds hold.
 *
 * @param platform an open, writable platform
 * @param log receives the handler's events
 * @param chunkMb chunk size of both feeds
 * @returns the handler (its writers are closed with the platform)
 */
export function openRecorder(
  platform: Platform,
  log: (e: LogEvent) => void,
  chunkMb = 64,
): CoinbaseHandler {
  platform.createFeed(tradesSpec(chunkMb));
  platform.createFeed(quotesSpec(chunkMb));
  const handler = new CoinbaseHandler(
    platform.createWriter(TRADES_FEED),
    platform.createWriter(QUOTES_FEED),
    log,
  );
  using trades = platform.createReader(TRADES_FEED);
  using quotes = platform.createReader(QUOTES_FEED);
  handler.resume(trades, quotes);
  return handler;
}
