// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * Replication through NATS JetStream (`deno task bench:replicate`), beside
 * the local cross-process tail, in one run on one machine (two base paths
 * stand in for two hosts; a real nats-server on 127.0.0.1, as the tests
 * start it).
 *
 * Latency: this process writes paced messages stamped with CLOCK_MONOTONIC
 * (as bench/latency.ts does); one reader tails the source feed (the local
 * tail), another tails the mirror's copy, both in child processes, each
 * recording now - stamp: source commit to mirror commit (plus the mirror's
 * own tail, microseconds). Throughput: then `--records` records written as
 * fast as writeBatch goes, timed until the mirror holds them all.
 *
 * Usage: deno task bench:replicate [--messages 20000] [--interval-us 50] [--records 2000000]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Platform } from "../mod.ts";
import { lines, projectCommand } from "../tests/helpers.ts";
import { NatsServer } from "../tests/nats_server.ts";
import { now, type Stats } from "./clock.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "20000" },
    "interval-us": { type: "string", default: "50" },
    records: { type: "string", default: "2000000" },
  },
});
const N = Number(values.messages), WARM = 2000, GAP = Number(values["interval-us"]) * 1000;
const RECORDS = Number(values.records);

const FEED = "lat";
await using server = await NatsServer.start();
const src = Deno.makeTempDirSync({ prefix: "deepwater-repl-src-" });
const dst = Deno.makeTempDirSync({ prefix: "deepwater-repl-dst-" });
const ps = new Platform(src, { log: { console: false }, signals: "none" });
const pd = new Platform(dst, { log: { console: false }, signals: "none" });
ps.createFeed({
  feed_name: FEED,
  fields: [{ name: "seq", type: "uint64" }, { name: "sent_ns", type: "uint64" }, {
    name: "ts",
    type: "uint64",
  }],
  ts_col: "ts",
  chunk_size_mb: 4,
});
const w = ps.createWriter(FEED);
const replicate = (kind: string, base: string) =>
  projectCommand("cli/deepwater.ts", [
    "replicate",
    kind,
    "--feed",
    FEED,
    "--nats",
    server.url,
    "--base-path",
    base,
  ]).spawn();
const procs = [replicate("publish", src), replicate("mirror", dst)];
for (const p of procs) void p.stdout.cancel();

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
await waitFor(() => pd.listFeeds().includes(FEED), 20_000, "the mirror created its feed");

function tail(base: string): { stats: Promise<Stats>; ready: Promise<unknown> } {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("latency_reader.ts", import.meta.url).pathname,
      base,
      FEED,
      "block",
      String(N),
      String(WARM),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = lines(proc.stdout);
  const ready = out.next();
  const stats = ready.then(async () => {
    const s = JSON.parse(String((await out.next()).value)) as Stats;
    await proc.status;
    return s;
  });
  return { stats, ready };
}

const local = tail(src), mirrored = tail(dst);
await Promise.all([local.ready, mirrored.ready]);
await new Promise((r) => setTimeout(r, 200));
let seq = 0;
let next = now();
for (let i = 0; i < N + WARM; i++) {
  next += GAP;
  while (now() < next) { /* pace */ }
  w.writeValues(seq, now(), seq);
  seq++;
  // Give the event loop a turn now and then; the readers are other processes.
  if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 0));
}
const [localStats, mirrorStats] = await Promise.all([local.stats, mirrored.stats]);

// Throughput: a burst written with writeBatch, timed until the mirror has it.
using mirrorReader = pd.createReader(FEED);
const before = mirrorReader.count();
const batch = 4096;
const bytes = new Uint8Array(batch * 24);
const view = new DataView(bytes.buffer);
const t0 = performance.now();
for (let done = 0; done < RECORDS;) {
  const m = Math.min(batch, RECORDS - done);
  for (let j = 0; j < m; j++, seq++) {
    view.setBigUint64(j * 24, BigInt(seq), true);
    view.setBigUint64(j * 24 + 8, 0n, true);
    view.setBigUint64(j * 24 + 16, BigInt(seq), true);
  }
  w.writeBatch(bytes.subarray(0, m * 24));
  done += m;
}
const tWritten = performance.now();
await waitFor(() => mirrorReader.count() === before + RECORDS, 300_000, "the mirror caught up");
const tMirrored = performance.now();

for (const p of procs) {
  p.kill("SIGTERM");
  await p.status;
}
w.close();
ps.close();
pd.close();
Deno.removeSync(src, { recursive: true });
Deno.removeSync(dst, { recursive: true });

const us = (ns: number) => (ns / 1000).toFixed(1).padStart(9);
console.log(
  `end-to-end latency, ${N} messages every ${GAP / 1000} µs after ${WARM} warm-up (µs)`,
);
console.log(
  `${"".padEnd(44)} ${"p50".padStart(9)} ${"p99".padStart(9)} ${"p99.9".padStart(9)} ${
    "max".padStart(9)
  }`,
);
for (
  const [name, s] of [
    ["local tail (source feed, block)", localStats],
    ["replicated: source commit -> mirror commit", mirrorStats],
  ] as const
) {
  console.log(`${name.padEnd(44)} ${us(s.p50)} ${us(s.p99)} ${us(s.p999)} ${us(s.max)}`);
}
console.log(`ratio replicated / local p50: ${(mirrorStats.p50 / localStats.p50).toFixed(0)}x`);
const rate = (ms: number) => `${(RECORDS / (ms / 1000) / 1e6).toFixed(2)} M records/s`;
console.log(
  `throughput, ${RECORDS} 24-byte records: written ${rate(tWritten - t0)}, replicated ${
    rate(tMirrored - t0)
  } (writeBatch start to the last record in the mirror, ${(tMirrored - t0).toFixed(0)} ms)`,
);
