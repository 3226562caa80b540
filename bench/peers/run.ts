// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * `deno task bench:peers`: Deepwater beside the systems users would pick
 * instead, on the same data, in the same run.
 *
 * Workloads, on the seed's 24-byte trade record and a 32-byte quote record:
 * - append: 10 M records into a new store;
 * - query: 100 k random seeks (first record at or after a time) and 1 k
 *   windows of 10 k records with a sum, over the store just written;
 * - latency: a writer process sends messages paced at 10 k, 100 k and 1 M
 *   per second; a reader process tails them and records send-to-receive
 *   latency on the shared CLOCK_MONOTONIC.
 *
 * Every operation runs in its own process. Systems are interleaved within
 * each run, and each figure is the median over `--runs` runs. Query answers
 * are checked against values computed from the dataset, so no system can be
 * fast by being wrong. Results go to BENCHMARKS.md and bench/peers.svg.
 *
 * Usage: deno task bench:peers [--quick] [--records N] [--runs N] [--seconds S]
 *          [--systems a,b] [--workloads append,query,latency] [--shapes trade,quote]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { Platform } from "../../mod.ts";
import { expectedChecks, queryPlan, type RecordName, RECORDS, writeDataset } from "./records.ts";
import type { PeerResult } from "./protocol.ts";
import { lines } from "../../tests/helpers.ts";
import { type Collected, type Config, machine, writeReport } from "./report.ts";
import { type SystemName, SYSTEMS } from "./lineup.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    records: { type: "string" },
    runs: { type: "string" },
    seconds: { type: "string" },
    rates: { type: "string" },
    systems: { type: "string" },
    workloads: { type: "string" },
    shapes: { type: "string" },
    "max-query-seconds": { type: "string" },
    "work-dir": { type: "string" },
    out: { type: "string" },
  },
});

const root = new URL("../../", import.meta.url).pathname;
const quick = flags.quick === true;
const config: Config = {
  records: Number(flags.records ?? (quick ? 200_000 : 10_000_000)),
  runs: Number(flags.runs ?? (quick ? 1 : 3)),
  seconds: Number(flags.seconds ?? (quick ? 0.2 : 1)),
  rates: (flags.rates ?? "10000,100000,1000000").split(",").map(Number),
  maxQuerySeconds: Number(flags["max-query-seconds"] ?? (quick ? 5 : 20)),
  shapes: (flags.shapes ?? "trade,quote").split(",") as RecordName[],
  command: `deno task bench:peers ${Deno.args.join(" ")}`.trim(),
};

const systems = (flags.systems?.split(",") ?? Object.keys(SYSTEMS)) as SystemName[];
for (const s of systems) {
  if (!(s in SYSTEMS)) throw new Error(`unknown system "${s}": ${Object.keys(SYSTEMS).join(", ")}`);
}
const workloads = (flags.workloads ?? "append,query,latency").split(",");

const work = flags["work-dir"] ?? Deno.makeTempDirSync({ prefix: "deepwater-peers-" });
Deno.mkdirSync(work, { recursive: true });

// --- Chronicle's harness: compiled here against Debian's jars ---------------
const JARS = [
  "openhft-chronicle-3.6.0",
  "openhft-lang",
  "slf4j-api",
  "openhft-affinity",
  "openhft-compiler",
  "com.intellij.annotations",
];
const JAVA_OPENS = [
  "java.base/java.lang",
  "java.base/java.nio",
  "java.base/sun.nio.ch",
  "java.base/jdk.internal.misc",
  "java.base/java.lang.reflect",
].flatMap((m) => ["--add-opens", `${m}=ALL-UNNAMED`]).concat([
  "--add-exports",
  "java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-exports",
  "java.base/sun.nio.ch=ALL-UNNAMED",
]);
let javaClasspath: string | undefined;
/** Why an optional peer cannot run here (and how to install it), by system. */
const missing: Partial<Record<SystemName, string>> = {};

async function prepareChronicle(): Promise<void> {
  const jars = JARS.map((j) => `/usr/share/java/${j}.jar`);
  if (jars.some((j) => !exists(j))) {
    // A fresh machine: install Chronicle Queue and a JDK from Debian (needs
    // root; otherwise the script says what to install and the row says why).
    await new Deno.Command("bash", { args: [join(root, "scripts/system_deps.sh"), "--bench"] })
      .output().catch(() => undefined);
  }
  const absent = jars.filter((j) => !exists(j));
  if (absent.length) {
    missing.chronicle = `not installed (${
      absent[0]
    } missing): apt-get install libopenhft-chronicle-queue-java`;
    return;
  }
  const out = join(root, "c/build/java");
  Deno.mkdirSync(out, { recursive: true });
  const cp = jars.join(":");
  const javac = await new Deno.Command("javac", {
    args: ["-cp", cp, "-d", out, join(root, "bench/peers/ChroniclePeer.java")],
    stderr: "piped",
  }).output().catch((e) => ({ success: false, stderr: new TextEncoder().encode(String(e)) }));
  if (!javac.success) {
    const why = new TextDecoder().decode(javac.stderr).split("\n")[0];
    missing.chronicle = /NotFound|No such file/.test(why ?? "")
      ? "not installed (javac not found): apt-get install default-jdk-headless"
      : `cannot compile the harness: ${why}`;
    return;
  }
  javaClasspath = `${cp}:${out}`;
}

/** This benchmark's own configuration: the npm peers' versions live here, not in the package's. */
const PEERS_CONFIG = join(root, "bench/peers/deno.json");

/**
 * Install an npm peer (LMDB, DuckDB) into Deno's cache, or record why it
 * cannot run: without access to the npm registry it is reported, not fatal.
 */
async function prepareNpmPeer(system: "lmdb" | "duckdb"): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["cache", "--config", PEERS_CONFIG, join(root, `bench/peers/systems/${system}.ts`)],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.success) return;
  const error = new TextDecoder().decode(out.stderr).split("\n").find((l) => l.startsWith("error"));
  missing[system] = `not installed: ${
    error ?? "deno cache failed"
  }: run again with access to the npm registry (the versions are in bench/peers/deno.json)`;
}

/** Remove a run's directory; a system that never ran may not have created it. */
function removeDir(dir: string): void {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The command line running `op` for `system`. */
function command(system: SystemName, op: string, args: string[]): [string, string[]] {
  if (system === "c") return [join(root, "c/build/dwpeer"), [op, ...args]];
  if (system === "chronicle") {
    return ["java", [...JAVA_OPENS, "-cp", javaClasspath!, "ChroniclePeer", op, ...args]];
  }
  // Only the npm peers need their configuration: with it, Deno installs every package it locks.
  const config = system === "lmdb" || system === "duckdb" ? PEERS_CONFIG : join(root, "deno.json");
  return [Deno.execPath(), [
    "run",
    "-A",
    "--config",
    config,
    join(root, "bench/peers/peer.ts"),
    system,
    op,
    ...args,
  ]];
}

function unavailable(system: SystemName): string | undefined {
  return missing[system];
}

/** Run one operation to completion and parse its JSON line. */
async function runOp(system: SystemName, op: string, args: string[]): Promise<PeerResult> {
  const why = unavailable(system);
  if (why) return { ok: false, reason: why };
  const [exe, argv] = command(system, op, args);
  const out = await new Deno.Command(exe, { args: argv, stdout: "piped", stderr: "piped" })
    .output();
  return parseResult(new TextDecoder().decode(out.stdout), new TextDecoder().decode(out.stderr));
}

function parseResult(stdout: string, stderr: string): PeerResult {
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) {
    return {
      ok: false,
      reason: `no result (${stderr.trim().split("\n").pop() ?? "no output"})`,
    };
  }
  return JSON.parse(line) as PeerResult;
}

/** One latency measurement: reader started first, then the paced writer. */
async function runLatency(
  system: SystemName,
  shape: RecordName,
  dir: string,
  rate: number,
): Promise<{ writer: PeerResult; reader: PeerResult }> {
  const why = unavailable(system);
  if (why) return { writer: { ok: false, reason: why }, reader: { ok: false, reason: why } };
  const messages = Math.max(2000, Math.round(rate * config.seconds));
  const warmup = Math.floor(messages / 10);
  Deno.mkdirSync(dir, { recursive: true });
  const init = await runOp(system, "latency-init", [shape, dir]);
  if (!init.ok) return { writer: init, reader: init };
  const [exe, argv] = command(system, "latency-reader", [
    shape,
    dir,
    String(messages),
    String(warmup),
  ]);
  const reader = new Deno.Command(exe, { args: argv, stdout: "piped", stderr: "piped" }).spawn();
  const readerOut = lines(reader.stdout);
  const first = await readerOut.next();
  if (first.value !== "ready") {
    reader.kill("SIGKILL");
    await reader.status;
    const err = await new Response(reader.stderr).text();
    return {
      writer: { ok: false, reason: "reader did not start" },
      reader: parseResult(String(first.value ?? ""), err),
    };
  }
  await new Promise((r) => setTimeout(r, 200)); // let the reader reach its wait loop
  const writer = await runOp(system, "latency-writer", [
    shape,
    dir,
    String(messages),
    String(rate),
  ]);
  // A reader that cannot keep up gets a grace period, then is stopped.
  const deadline = setTimeout(() => reader.kill("SIGKILL"), (messages / rate) * 1000 + 15_000);
  const rest: string[] = [];
  for await (const l of readerOut) rest.push(l);
  clearTimeout(deadline);
  const status = await reader.status;
  const err = await new Response(reader.stderr).text();
  let result = parseResult(rest.join("\n"), err);
  if (!status.success && !result.ok) {
    result = {
      ok: false,
      reason: writer.ok ? "reader did not receive every message within 15 s" : result.reason,
    };
  }
  if (system === "deepwater-ring") {
    using p = new Platform(dir, { log: { console: false }, signals: "none" });
    p.removeRing(shape);
  }
  return { writer, reader: writer.ok ? result : writer };
}

// --- the run -------------------------------------------------------------
const collected: Collected = { config, append: [], query: [], latency: [], checks: {} };
const t0 = performance.now();
if (systems.includes("chronicle")) await prepareChronicle();
for (const peer of ["lmdb", "duckdb"] as const) {
  if (systems.includes(peer)) await prepareNpmPeer(peer);
}
for (const s of systems) {
  const why = missing[s];
  if (why) console.error(`bench:peers: ${SYSTEMS[s].label}: ${why}; its rows will say so`);
}
const plan = queryPlan(config.records);
const seeksFile = join(work, "seeks.bin"), windowsFile = join(work, "windows.bin");
Deno.writeFileSync(seeksFile, new Uint8Array(new BigUint64Array(plan.seeks.map(BigInt)).buffer));
Deno.writeFileSync(
  windowsFile,
  new Uint8Array(new BigUint64Array(plan.windows.flat().map(BigInt)).buffer),
);
const datasets: Partial<Record<RecordName, string>> = {};
for (const shape of config.shapes) {
  datasets[shape] = join(work, `${shape}.bin`);
  writeDataset(RECORDS[shape], config.records, datasets[shape]!);
}
console.error(
  `bench:peers: ${config.records} records, ${config.runs} run(s), systems ${
    systems.join(", ")
  }; work dir ${work}`,
);

const runsOf = (w: string) =>
  systems.filter((s) => (SYSTEMS[s].workloads as readonly string[]).includes(w));
for (let run = 1; run <= config.runs; run++) {
  for (const shape of config.shapes) {
    if (workloads.includes("append") || workloads.includes("query")) {
      for (const system of runsOf("append")) {
        const dir = join(work, `run${run}`, `${system}-${shape}`);
        Deno.mkdirSync(dir, { recursive: true });
        // Flush earlier systems' dirty pages, so no append inherits their writeback.
        await new Deno.Command("sync").output();
        const appended = await runOp(system, "append", [
          shape,
          String(config.records),
          datasets[shape]!,
          dir,
        ]);
        collected.append.push({ run, shape, system, result: appended });
        console.error(`run ${run} ${shape} append ${system}: ${summary(appended)}`);
        if (workloads.includes("query") && runsOf("query").includes(system)) {
          const queried = appended.ok
            ? await runOp(system, "query", [
              shape,
              String(config.records),
              dir,
              seeksFile,
              windowsFile,
              String(config.maxQuerySeconds),
            ])
            : appended;
          collected.query.push({ run, shape, system, result: queried });
          console.error(`run ${run} ${shape} query ${system}: ${summary(queried)}`);
        }
        removeDir(dir);
      }
    }
    if (workloads.includes("latency")) {
      for (const rate of config.rates) {
        for (const system of runsOf("latency")) {
          const dir = join(work, `run${run}`, `lat-${system}-${shape}-${rate}`);
          const { writer, reader } = await runLatency(system, shape, dir, rate);
          collected.latency.push({ run, shape, system, rate, writer, reader });
          console.error(`run ${run} ${shape} latency ${rate}/s ${system}: ${summary(reader)}`);
          removeDir(dir);
        }
      }
    }
  }
}
for (const q of collected.query) {
  if (!q.result.ok || !("seekCheck" in q.result)) continue;
  const key = `${q.result.seeks}/${q.result.windows}`;
  collected.checks[key] ??= expectedChecks(
    config.records,
    plan,
    q.result.seeks,
    q.result.windows,
  );
}
const meta = await machine();
const elapsed = (performance.now() - t0) / 1000;
const written = writeReport(collected, meta, elapsed, {
  markdown: flags.out ?? join(root, "BENCHMARKS.md"),
  svg: join(root, "bench/peers.svg"),
});
console.error(`bench:peers: wrote ${written.join(" and ")} in ${elapsed.toFixed(0)} s`);
if (!flags["work-dir"]) Deno.removeSync(work, { recursive: true });

function summary(r: PeerResult): string {
  if (!r.ok) return `not run: ${r.reason}`;
  if ("records" in r) return `${(r.records / r.seconds / 1e6).toFixed(2)} M rec/s`;
  if ("seekSeconds" in r) {
    return `seek ${(r.seekSeconds / r.seeks * 1e6).toFixed(2)} µs, window ${
      (r.windowSeconds / r.windows * 1e3).toFixed(3)
    } ms`;
  }
  if ("p50" in r) return `p50 ${(r.p50 / 1000).toFixed(2)} µs, p99 ${(r.p99 / 1000).toFixed(2)} µs`;
  return "ok";
}
