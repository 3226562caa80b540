// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * Child of bench/latency.ts: tail a feed and record now - sent_ns for every
 * message after the warm-up; print percentiles as one JSON line (ns).
 *
 * @module
 */
import { Platform } from "../mod.ts";
import { now } from "./clock.ts";

const [base, feed, mode, total, warm] = Deno.args as [
  string,
  string,
  "spin" | "block",
  string,
  string,
];
const n = Number(total), w = Number(warm);
const p = new Platform(base, { log: { console: false } });
const r = p.createReader(feed);
const lat = new Float64Array(n);
let i = 0;
const live = r.stream({ wait: mode });
console.log("ready");
for await (const rec of live) {
  const d = now() - (rec.sent_ns as number);
  if (i >= w) lat[i - w] = d;
  if (++i === n + w) break;
}
lat.sort();
const q = (f: number) => lat[Math.min(n - 1, Math.floor(n * f))]!;
console.log(JSON.stringify({ p50: q(0.5), p99: q(0.99), p999: q(0.999), max: lat[n - 1] }));
p.close();
