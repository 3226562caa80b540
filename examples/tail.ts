// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * Live tail of the recorder's feeds, from another process: prints every
 * trade and quote as it is committed.
 *
 * ```sh
 * deno run -A examples/tail.ts --base-path ./data --product BTC-USD
 * ```
 *
 * Options: `--base-path` (default `./data`), `--feed trades|quotes|both`
 * (default both), `--product` (default all), `--json` (one JSON object per
 * record). Starts at the live head; SIGINT or SIGTERM ends it with exit 0.
 *
 * @module
 */
import { type FeedReader, Platform } from "../mod.ts";
import { QUOTES_FEED, TRADES_FEED } from "./coinbase.ts";

function usage(problem: string): never {
  console.error(
    `tail: ${problem}\nusage: tail.ts [--base-path DIR] [--feed trades|quotes|both] [--product ID] [--json]`,
  );
  Deno.exit(2);
}

async function main(args: string[]): Promise<void> {
  let basePath = "./data", feed = "both", product: string | undefined, json = false;
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    if (flag === "--json") {
      json = true;
      continue;
    }
    const value = args[++i];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === "--base-path") basePath = value;
    else if (flag === "--feed" && ["trades", "quotes", "both"].includes(value)) feed = value;
    else if (flag === "--product") product = value;
    else usage(`unknown option or value "${flag} ${value}"`);
  }
  // The tail owns its signals: they end the streams, and main returns.
  using platform = new Platform(basePath, { signals: "none" });
  const stop = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stop.abort());
  }
  const feeds = feed === "both" ? [TRADES_FEED, QUOTES_FEED] : [
    feed === "trades" ? TRADES_FEED : QUOTES_FEED,
  ];
  const tail = async (reader: FeedReader) => {
    for await (const r of reader.stream({ signal: stop.signal })) {
      if (product !== undefined && r.product_id !== product) continue;
      if (json) console.log(JSON.stringify({ feed: reader.feed, ...r }));
      else if (reader.feed === TRADES_FEED) {
        console.log(
          `${iso(r.timestamp_us)} ${r.product_id} trade ${r.trade_id} ${
            r.side === "b" ? "sell" : "buy "
          } ${r.size} @ ${r.price}`,
        );
      } else {
        console.log(
          `${
            iso(r.timestamp_us)
          } ${r.product_id} quote ${r.bid_size} @ ${r.bid} / ${r.ask} x ${r.ask_size}`,
        );
      }
    }
  };
  console.error(`tailing ${feeds.join(", ")}`);
  await Promise.all(feeds.map((f) => tail(platform.createReader(f))));
}

function iso(us: unknown): string {
  return new Date(Number(us) / 1000).toISOString();
}

if (import.meta.main) await main(Deno.args);
