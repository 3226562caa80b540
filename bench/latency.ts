// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * Cross-process writer-to-reader latency (`deno task bench:latency`).
 *
 * This process writes paced messages (one every `--interval-us`, busy-waited)
 * stamped with CLOCK_MONOTONIC; a reader in a child process streams them and
 * records now - stamp. Chunk and ring feeds, spin and block wait modes, beside
 * a C ping-pong baseline (bench/latency_c.c: raw shared memory, spinning
 * reader) run with the same pacing in the same run. Ratios are p50 against C.
 *
 * Usage: deno task bench:latency [--messages 20000] [--interval-us 20]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Platform } from "../mod.ts";
import { lines } from "../tests/helpers.ts";
import { now, type Stats } from "./clock.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "20000" },
    "interval-us": { type: "string", default: "20" },
  },
});
const N = Number(values.messages), WARM = 2000, GAP = Number(values["interval-us"]) * 1000;

async function runC(): Promise<Stats> {
  const out = await new Deno.Command(new URL("../c/build/dwlatency", import.meta.url).pathname, {
    args: [String(N), String(GAP), String(WARM)],
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function runDeepwater(persist: boolean, mode: "spin" | "block"): Promise<Stats> {
  const dir = Deno.makeTempDirSync({ prefix: "deepwater-lat-" });
  const p = new Platform(dir, { log: { console: false } });
  const feed = "lat";
  p.createFeed({
    feed_name: feed,
    fields: [{ name: "seq", type: "uint64" }, { name: "sent_ns", type: "uint64" }, {
      name: "ts",
      type: "uint64",
    }],
    ts_col: "ts",
    chunk_size_mb: persist ? 1 : 4, // small chunks: rotations happen during the run
    persist,
  });
  const w = p.createWriter(feed);
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("latency_reader.ts", import.meta.url).pathname,
      dir,
      feed,
      mode,
      String(N),
      String(WARM),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = lines(proc.stdout);
  await out.next(); // ready
  await new Promise((r) => setTimeout(r, 100));
  let next = now();
  for (let i = 0; i < N + WARM; i++) {
    next += GAP;
    while (now() < next) { /* pace */ }
    w.writeValues(i, now(), i);
    if (mode === "block" && i % 1000 === 999) await new Promise((r) => setTimeout(r, 0));
  }
  const stats = JSON.parse(String((await out.next()).value)) as Stats;
  await proc.status;
  if (!persist) p.removeRing(feed);
  p.close();
  Deno.removeSync(dir, { recursive: true });
  return stats;
}

const rows: [string, Stats][] = [];
const c = await runC();
rows.push(["C ping-pong (raw shm, spin)", c]);
for (
  const [persist, mode] of [[true, "spin"], [false, "spin"], [true, "block"], [
    false,
    "block",
  ]] as const
) {
  rows.push([
    `Deepwater ${persist ? "chunk" : "ring"} feed, ${mode}`,
    await runDeepwater(persist, mode),
  ]);
}
const us = (ns: number) => (ns / 1000).toFixed(2).padStart(9);
console.log(
  `cross-process latency, ${N} messages every ${
    GAP / 1000
  } µs after ${WARM} warm-up (µs; ratio = p50 / C p50)`,
);
console.log(
  `${"".padEnd(34)} ${"p50".padStart(9)} ${"p99".padStart(9)} ${"p99.9".padStart(9)} ${
    "max".padStart(9)
  }  ratio`,
);
for (const [name, s] of rows) {
  console.log(
    `${name.padEnd(34)} ${us(s.p50)} ${us(s.p99)} ${us(s.p999)} ${us(s.max)}  ${
      (s.p50 / c.p50).toFixed(1)
    }x`,
  );
}
