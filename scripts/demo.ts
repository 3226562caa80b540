// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * Demo: record a synthetic trade feed into ./data and query it.
 *
 * Writes 1.2 M realistic trades (random-walk price, heavy-tailed sizes,
 * Poisson arrivals over the last hour) into the seed's `trades` feed with
 * 8 MiB chunks, then runs a time-range query (VWAP of the last 5 minutes)
 * and reports rates. Re-running appends after the newest stored trade.
 *
 * Usage: deno task demo [--base-path ./data] [--records 1200000]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Platform } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "base-path": { type: "string", default: "./data" },
    records: { type: "string", default: "1200000" },
  },
});
const N = Number(values.records);
const base = values["base-path"]!;

using platform = new Platform(base);
platform.createFeed({
  feed_name: "trades",
  mode: "UF",
  fields: [
    { name: "price", type: "float64", desc: "Trade price" },
    { name: "size", type: "float64", desc: "Trade size" },
    { name: "timestamp_us", type: "uint64", desc: "Event time (µs)" },
  ],
  ts_col: "timestamp_us",
  chunk_size_mb: 8,
  retention_hours: 72,
  persist: true,
});

const before = platform.getFeedInfo("trades");
const nowUs = Date.now() * 1000;
let ts = Math.max(nowUs - 3_600_000_000, (before.lastTs ?? 0) + 1);
const meanGapUs = 3_600_000_000 / N;
let price = 43_000;
let seed = 42;
const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296 + 1e-12;

// Pre-generate so the timed loop measures the store, not the generator.
const prices = new Float64Array(N), sizes = new Float64Array(N), stamps = new Float64Array(N);
for (let i = 0; i < N; i++) {
  price = Math.max(1, price * (1 + (rand() - 0.5) * 0.0004));
  prices[i] = Math.round(price * 100) / 100;
  sizes[i] = Math.round(-Math.log(rand()) * 0.05 * 1e6) / 1e6 + 0.000001;
  ts += Math.max(1, Math.round(-Math.log(rand()) * meanGapUs));
  stamps[i] = ts;
}

console.log(`Deepwater demo: writing ${N.toLocaleString()} trades to ${platform.basePath}`);
{
  using writer = platform.createWriter("trades");
  const t0 = performance.now();
  for (let i = 0; i < N; i++) writer.writeValues(prices[i], sizes[i], stamps[i]);
  const ms = performance.now() - t0;
  console.log(
    `  writeValues: ${N.toLocaleString()} records in ${ms.toFixed(1)} ms (${
      (N / ms / 1000).toFixed(1)
    } M rec/s)`,
  );
}

const info = platform.getFeedInfo("trades");
console.log(
  `  feed: ${info.recordCount.toLocaleString()} records in ${info.chunkCount} chunks of ${
    (info.chunkBytes / 1048576).toFixed(0)
  } MiB, ${(info.bytesOnDisk / 1048576).toFixed(1)} MiB on disk`,
);
console.log(
  `  span: ${new Date(info.firstTs! / 1000).toISOString()} .. ${
    new Date(info.lastTs! / 1000).toISOString()
  }`,
);

using reader = platform.createReader("trades");
const end = info.lastTs!;
const start = end - 5 * 60 * 1_000_000;
let t0 = performance.now();
let n = 0, notional = 0, volume = 0;
for (const r of reader.read(start, end)) {
  n++;
  notional += (r.price as number) * (r.size as number);
  volume += r.size as number;
}
let ms = performance.now() - t0;
console.log(
  `  query last 5 min: ${n.toLocaleString()} trades, VWAP ${
    (notional / volume).toFixed(2)
  }, volume ${volume.toFixed(3)} in ${ms.toFixed(2)} ms`,
);

t0 = performance.now();
let all = 0;
for (const _ of reader.read()) all++;
ms = performance.now() - t0;
console.log(
  `  full scan: ${all.toLocaleString()} records in ${ms.toFixed(1)} ms (${
    (all / ms / 1000).toFixed(1)
  } M rec/s as objects)`,
);

const seeks = 10_000;
t0 = performance.now();
for (let i = 0; i < seeks; i++) {
  const at = info.firstTs! + Math.floor(rand() * (info.lastTs! - info.firstTs!));
  reader.read(at, at + 1000).next();
}
ms = performance.now() - t0;
console.log(`  ${seeks.toLocaleString()} random seeks: ${(ms * 1000 / seeks).toFixed(2)} µs each`);
const last = reader.latest()!;
console.log(
  `  latest: price ${last.price} size ${last.size} at ${
    new Date((last.timestamp_us as number) / 1000).toISOString()
  }`,
);
