// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * Crash stress: repeatedly SIGKILL a writer at random points (mid-batch,
 * mid-rotation) while a reader in another process tails the feed, then check
 * that every acknowledged record is readable, none is torn, and the next
 * writer resumes with no gap. The test suite runs 12 trials; this runs many.
 *
 * Usage: deno task stress [--trials 200] [--chunk-mb 0.0625]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Platform } from "../mod.ts";
import { child, lines } from "../tests/helpers.ts";

const { values } = parseArgs({
  // `deno task stress -- --trials N` passes the "--" through.
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: {
    trials: { type: "string", default: "200" },
    "chunk-mb": { type: "string", default: "0.0625" },
  },
});
const trials = Number(values.trials);
const dir = Deno.makeTempDirSync({ prefix: "deepwater-stress-" });
const platform = new Platform(dir, { log: { console: false } });
platform.createFeed({
  feed_name: "trades",
  fields: [
    { name: "price", type: "float64" },
    { name: "size", type: "float64" },
    { name: "timestamp_us", type: "uint64" },
  ],
  ts_col: "timestamp_us",
  chunk_size_mb: Number(values["chunk-mb"]),
});
const tail = child("tail_check.ts", [dir, "trades", "poll"]).spawn();
const tailOut = lines(tail.stdout);
await tailOut.next(); // ready

let seed = 12345;
const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
let committed = 0;
const t0 = performance.now();
for (let trial = 1; trial <= trials; trial++) {
  const proc = child("crash_writer.ts", [dir, "trades", String(trial)]).spawn();
  const out = lines(proc.stdout);
  let ack = Number((await out.next()).value);
  const drain = (async () => {
    for await (const l of out) ack = Number(l);
  })();
  await new Promise((r) => setTimeout(r, rand() * 80));
  proc.kill("SIGKILL");
  await proc.status;
  await drain;
  await proc.stderr.cancel();
  using reader = platform.createReader("trades");
  let i = 0;
  for (const r of reader.read()) {
    if (r.price !== i || r.size !== 2 * i + 1 || r.timestamp_us !== i) {
      console.error(`trial ${trial}: record ${i} torn or misplaced: ${JSON.stringify(r)}`);
      Deno.exit(1);
    }
    i++;
  }
  if (i < ack) {
    console.error(`trial ${trial}: ${ack} writes returned but only ${i} records are readable`);
    Deno.exit(1);
  }
  committed = i;
  if (trial % 20 === 0 || trial === trials) {
    const info = platform.getFeedInfo("trades");
    console.log(
      `trial ${trial}/${trials}: ${committed.toLocaleString()} records in ${info.chunkCount} chunks, all intact`,
    );
  }
}
{
  using w = platform.createWriter("trades");
  w.writeValues(-1, -1, committed);
}
const verdict = String((await tailOut.next()).value);
await tail.status;
await tail.stderr.cancel();
if (verdict !== `ok ${committed}`) {
  console.error(`tailing reader: expected "ok ${committed}", got "${verdict}"`);
  Deno.exit(1);
}
platform.close();
Deno.removeSync(dir, { recursive: true });
console.log(
  `stress: ${trials} SIGKILL trials, ${committed.toLocaleString()} records, tailing reader saw every one in order (${
    ((performance.now() - t0) / 1000).toFixed(1)
  } s)`,
);
