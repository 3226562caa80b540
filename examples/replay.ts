// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * Research replay: read a day (or any range) of recorded trades and print
 * OHLCV bars with VWAP.
 *
 * ```sh
 * deno run -A examples/replay.ts --base-path ./data --product BTC-USD --day 2024-05-01 --bar 5m
 * ```
 *
 * Options: `--base-path` (default `./data`), `--product` (default every
 * product, each its own bars), `--day YYYY-MM-DD` (UTC) or `--start` /
 * `--end` (ISO-8601 or microseconds; default everything retained), `--bar`
 * (`10s`, `1m`, `5m`, `1h`, ...; default `1m`), `--json` (one JSON object
 * per bar instead of a table).
 *
 * Bars are aligned to the epoch: a trade at `t` falls in the bar starting at
 * `floor(t / bar) * bar`. Bars without trades are not printed.
 *
 * @module
 */
import { Platform } from "../mod.ts";
import { TRADES_FEED } from "./coinbase.ts";

/** One bar of trades. */
export interface Bar {
  /** Product id. */
  product: string;
  /** Bar start, microseconds since the epoch. */
  startUs: number;
  /** First trade's price. */
  open: number;
  /** Highest price. */
  high: number;
  /** Lowest price. */
  low: number;
  /** Last trade's price. */
  close: number;
  /** Sum of sizes. */
  volume: number;
  /** Sum of price x size over the volume. */
  vwap: number;
  /** Number of trades. */
  trades: number;
}

/** A trade as the bar builder needs it. */
export interface Trade {
  /** Product id. */
  product_id: string;
  /** Trade time, microseconds. */
  timestamp_us: number;
  /** Price. */
  price: number;
  /** Size. */
  size: number;
}

/**
 * Fold trades (in time order) into bars of `barUs` per product.
 *
 * @param trades trades in time order
 * @param barUs bar length in microseconds
 * @returns bars ordered by product, then start
 */
export function buildBars(trades: Iterable<Trade>, barUs: number): Bar[] {
  const open = new Map<string, Bar & { notional: number }>();
  const done: (Bar & { notional: number })[] = [];
  for (const t of trades) {
    const startUs = Math.floor(t.timestamp_us / barUs) * barUs;
    let bar = open.get(t.product_id);
    if (bar && bar.startUs !== startUs) {
      done.push(bar);
      bar = undefined;
    }
    if (!bar) {
      bar = {
        product: t.product_id,
        startUs,
        open: t.price,
        high: t.price,
        low: t.price,
        close: t.price,
        volume: 0,
        vwap: 0,
        trades: 0,
        notional: 0,
      };
      open.set(t.product_id, bar);
    }
    bar.high = Math.max(bar.high, t.price);
    bar.low = Math.min(bar.low, t.price);
    bar.close = t.price;
    bar.volume += t.size;
    bar.notional += t.price * t.size;
    bar.trades++;
  }
  done.push(...open.values());
  return done
    .map(({ notional, ...b }) => ({ ...b, vwap: notional / b.volume }))
    .sort((a, b) => a.product < b.product ? -1 : a.product > b.product ? 1 : a.startUs - b.startUs);
}

function parseBar(s: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(s);
  if (!m || Number(m[1]) === 0) usage(`--bar must look like 10s, 1m or 1h, got "${s}"`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"] * 1_000_000;
}

function parseTime(s: string, flag: string): number {
  const us = /^\d+$/.test(s) ? Number(s) : Date.parse(s) * 1000;
  if (!Number.isSafeInteger(us)) usage(`${flag} must be ISO-8601 or microseconds, got "${s}"`);
  return us;
}

function usage(problem: string): never {
  console.error(
    `replay: ${problem}\nusage: replay.ts [--base-path DIR] [--product ID] ` +
      `[--day YYYY-MM-DD | --start T --end T] [--bar 1m] [--json]`,
  );
  Deno.exit(2);
}

function main(args: string[]): void {
  let basePath = "./data", product: string | undefined, barUs = 60_000_000, json = false;
  let startUs = 0, endUs = Number.MAX_SAFE_INTEGER;
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    if (flag === "--json") {
      json = true;
      continue;
    }
    const value = args[++i];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === "--base-path") basePath = value;
    else if (flag === "--product") product = value;
    else if (flag === "--bar") barUs = parseBar(value);
    else if (flag === "--start") startUs = parseTime(value, flag);
    else if (flag === "--end") endUs = parseTime(value, flag);
    else if (flag === "--day") {
      startUs = parseTime(`${value}T00:00:00Z`, flag);
      endUs = startUs + 86_400_000_000 - 1;
    } else usage(`unknown option "${flag}"`);
  }
  // A short-lived program: `using` at this scope is right, the platform is
  // needed only until main returns.
  using platform = new Platform(basePath, { readOnly: true, signals: "none" });
  using reader = platform.createReader(TRADES_FEED);
  const trades = (function* () {
    for (const r of reader.read(startUs, endUs)) {
      if (product === undefined || r.product_id === product) yield r as unknown as Trade;
    }
  })();
  const bars = buildBars(trades, barUs);
  if (json) {
    for (const b of bars) console.log(JSON.stringify(b));
    return;
  }
  const header = ["product", "bar start (UTC)", "open", "high", "low", "close", "volume", "vwap"];
  const rows = bars.map((b) => [
    b.product,
    new Date(b.startUs / 1000).toISOString().replace("T", " ").slice(0, 19),
    ...[b.open, b.high, b.low, b.close].map((x) => x.toFixed(2)),
    b.volume.toFixed(4),
    b.vwap.toFixed(4),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) {
    console.log(r.map((c, i) => i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  "));
  }
  console.log(`${bars.length} bars, ${bars.reduce((n, b) => n + b.trades, 0)} trades`);
}

if (import.meta.main) main(Deno.args);
