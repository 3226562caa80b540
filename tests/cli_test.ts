import { assert, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import { ENTRY_FIELDS, FLAG, REG_HEADER } from "../lib/chunks/format.ts";
import { ABI_VERSION } from "../lib/base/version.ts";
import { existsSync } from "node:fs";
import { child, lines, runCli, tempDir, tradeSpec, writeTrades } from "./helpers.ts";

const HOUR = 3600e6;

function platformAt(dir: string): Platform {
  return new Platform(dir, { log: { console: false }, signals: "none" });
}

/** A data dir with one trades feed of `n` records (64 KiB chunks: ~2730 per chunk). */
function seeded(dir: string, n = 10_000, tsOf?: (i: number) => number): void {
  using p = platformAt(dir);
  p.createFeed(tradeSpec("trades", 0.0625, { retention_hours: 1 }));
  writeTrades(p, "trades", 0, n, tsOf);
}

function readAll(dir: string): number[] {
  using p = platformAt(dir);
  using r = p.createReader("trades");
  return [...r.read()].map((x) => x.price as number);
}

Deno.test("deepwater-health: 0 healthy, 1 stale feed, 2 missing base path or bad flag, --json and --version", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  seeded(d.path, 5000, (i) => now - 10_000_000 + i);
  let r = await runCli("deepwater-health.ts", [
    "--base-path",
    d.path,
    "--check-feeds",
    "--max-age-seconds",
    "3600",
  ]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assert(r.stdout.includes("healthy"), r.stdout);
  r = await runCli("deepwater-health.ts", [
    "--base-path",
    d.path,
    "--check-feeds",
    "--max-age-seconds",
    "1",
  ]);
  assertEquals(r.code, 1);
  assert(r.stdout.includes("FAIL feed trades: activity"), r.stdout);
  r = await runCli("deepwater-health.ts", ["--base-path", d.path, "--check-feeds", "--json"]);
  const report = JSON.parse(r.stdout);
  assertEquals([r.code, report.healthy, report.feeds[0].records], [0, true, 5000]);
  r = await runCli("deepwater-health.ts", ["--base-path", `${d.path}/nope`]);
  assertEquals(r.code, 2);
  r = await runCli("deepwater-health.ts", ["--bogus"]);
  assertEquals(r.code, 2);
  assert(r.stderr.includes("usage: deepwater-health"), r.stderr);
  r = await runCli("deepwater-health.ts", ["--version"]);
  assert(
    new RegExp(`^deepwater-health \\d+\\.\\d+\\.\\d+ \\(format 1, abi ${ABI_VERSION}\\)`).test(
      r.stdout,
    ),
    r.stdout,
  );
  r = await runCli("deepwater-health.ts", ["--base-path", d.path, "--min-free-gb", "1e9"]);
  assertEquals(r.code, 1);
});

Deno.test("deepwater-health and deepwater-repair detect and fix a registry entry with a bad checksum", async () => {
  using d = tempDir();
  seeded(d.path);
  const reg = `${d.path}/feeds/trades/registry.dwr`;
  const bytes = Deno.readFileSync(reg);
  bytes[REG_HEADER + ENTRY_FIELDS.maxTs] = bytes[REG_HEADER + ENTRY_FIELDS.maxTs]! ^ 0x40; // chunk 1's max timestamp
  Deno.writeFileSync(reg, bytes);
  let r = await runCli("deepwater-health.ts", ["--base-path", d.path, "--check-feeds"]);
  assertEquals(r.code, 1);
  assert(r.stdout.includes("bad checksum"), r.stdout);
  r = await runCli("deepwater-repair.ts", ["--base-path", d.path, "--all", "--dry-run"]);
  assertEquals(r.code, 1);
  assert(r.stdout.includes("entry-checksum"), r.stdout);
  r = await runCli("deepwater-repair.ts", ["--base-path", d.path, "--feed", "trades"]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  r = await runCli("deepwater-health.ts", ["--base-path", d.path, "--check-feeds"]);
  assertEquals(r.code, 0, r.stdout);
  assertEquals(readAll(d.path), Array.from({ length: 10_000 }, (_, i) => i));
  r = await runCli("deepwater-repair.ts", ["--base-path", d.path, "--all"]);
  assertEquals(r.code, 0);
  assert(r.stdout.includes("0 finding(s)"), r.stdout);
});

Deno.test("deepwater-repair: missing chunk, orphan chunk, truncated live chunk, and usage errors", async () => {
  using d = tempDir();
  seeded(d.path, 10_000);
  const dir = `${d.path}/feeds/trades`;
  Deno.removeSync(`${dir}/chunk-000000000002.dwk`); // records 2730..5459 gone
  Deno.writeFileSync(`${dir}/chunk-000000000099.dwk`, new Uint8Array(4096)); // orphan
  const live = `${dir}/chunk-000000000004.dwk`;
  Deno.truncateSync(live, 64 + 24 * 100 + 7); // cut mid-record: 100 whole records survive
  let r = await runCli("deepwater-repair.ts", [
    "--base-path",
    d.path,
    "--all",
    "--dry-run",
    "--json",
  ]);
  assertEquals(r.code, 1);
  const kinds = JSON.parse(r.stdout).findings.map((f: { kind: string }) => f.kind).sort();
  assertEquals(kinds, ["chunk-missing", "chunk-short", "committed-beyond-file", "orphan-chunk"]);
  r = await runCli("deepwater-repair.ts", ["--base-path", d.path, "--all"]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  const prices = readAll(d.path);
  const cap = 2728;
  const expected = [
    ...Array.from({ length: cap }, (_, i) => i),
    ...Array.from({ length: cap }, (_, i) => 2 * cap + i),
    ...Array.from({ length: 100 }, (_, i) => 3 * cap + i),
  ];
  assertEquals(prices, expected);
  {
    using p = platformAt(d.path);
    writeTrades(p, "trades", 50_000, 50_010); // the writer resumes after the clamped count
  }
  assertEquals(readAll(d.path).slice(-11), [
    3 * cap + 99,
    ...Array.from({ length: 10 }, (_, i) => 50_000 + i),
  ]);
  r = await runCli("deepwater-repair.ts", ["--base-path", d.path]);
  assertEquals(r.code, 2);
  r = await runCli("deepwater-repair.ts", ["--base-path", d.path, "--feed", "nope"]);
  assertEquals(r.code, 2);
});

Deno.test("deepwater-repair rebuilds a lost registry and a corrupt catalog without losing records", async () => {
  using d = tempDir();
  seeded(d.path, 7000);
  Deno.removeSync(`${d.path}/feeds/trades/registry.dwr`);
  const cat = `${d.path}/catalog.dwc`;
  const bytes = Deno.readFileSync(cat);
  bytes[100] = bytes[100]! ^ 1;
  Deno.writeFileSync(cat, bytes);
  let r = await runCli("deepwater-health.ts", ["--base-path", d.path]);
  assertEquals(r.code, 1);
  r = await runCli("deepwater-repair.ts", ["--base-path", d.path, "--all"]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assert(r.stdout.includes("catalog-corrupt") && r.stdout.includes("registry-rebuilt"), r.stdout);
  assertEquals(readAll(d.path), Array.from({ length: 7000 }, (_, i) => i));
  using p = platformAt(d.path);
  assertEquals(p.getFeedInfo("trades").chunks.map((c) => c.sealed), [true, true, false]);
});

Deno.test("deepwater-repair skips a feed whose writer is running and clears a dead writer's record", async () => {
  using d = tempDir();
  seeded(d.path, 100);
  const holder = child("hold_writer.ts", [d.path, "trades"]).spawn();
  const out = lines(holder.stdout);
  assertEquals((await out.next()).value, "locked");
  let r = await runCli("deepwater-repair.ts", ["--base-path", d.path, "--all"]);
  assertEquals(r.code, 1);
  assert(r.stdout.includes("writer-active"), r.stdout);
  holder.kill("SIGKILL");
  await holder.status;
  await holder.stderr.cancel();
  r = await runCli("deepwater-repair.ts", ["--base-path", d.path, "--all"]);
  assertEquals(r.code, 0, r.stdout);
  assert(r.stdout.includes("stale-writer"), r.stdout);
  assertEquals(readAll(d.path).length, 100);
});

Deno.test("deepwater-cleanup deletes only sealed chunks past retention, never the live one; readers keep working", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  // 3 chunks of 3-hour-old data, then 2+ chunks of fresh data (retention is 1 h).
  seeded(d.path, 14_000, (i) => (i < 3 * 2728 ? now - 3 * HOUR + i : now - 60e6 + i));
  using p = platformAt(d.path);
  using reader = p.createReader("trades");
  const before = p.getFeedInfo("trades");
  let r = await runCli("deepwater-cleanup.ts", ["--base-path", d.path, "--dry-run", "--json"]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(JSON.parse(r.stdout).feeds[0].deleted.map((c: { id: number }) => c.id), [1, 2, 3]);
  assertEquals(p.getFeedInfo("trades").chunkCount, before.chunkCount);
  r = await runCli("deepwater-cleanup.ts", ["--base-path", d.path]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes("deleted 3 chunk(s)"), r.stdout);
  const after = p.getFeedInfo("trades");
  assertEquals(after.chunks[0]!.id, 4);
  assertEquals(after.recordCount, 14_000 - 3 * 2728);
  assertEquals(reader.count(), 14_000 - 3 * 2728);
  assertEquals(
    [...reader.read(now - 60e6 + 9000, now - 60e6 + 9009)].map((x) => x.price),
    Array.from({ length: 10 }, (_, i) => 9000 + i),
  );
  // A feed holding only old data keeps its live chunk.
  p.createFeed(tradeSpec("old", 0.0625, { retention_hours: 1 }));
  writeTrades(p, "old", 0, 6000, (i) => now - 5 * HOUR + i);
  r = await runCli("deepwater-cleanup.ts", ["--base-path", d.path, "--json"]);
  const old = JSON.parse(r.stdout).feeds.find((f: { feed: string }) => f.feed === "old");
  assertEquals([old.deleted.length, old.kept], [2, 1]);
  using oldReader = p.createReader("old");
  assertEquals(oldReader.count(), 6000 - 2 * 2728);
  assert(!(p.getFeedInfo("old").chunks.some((c) => c.id < 3)));
  assertEquals(FLAG.DELETED, 4);
});

Deno.test("deepwater-cleanup --install-cron is idempotent and --uninstall-cron removes only its own line", async () => {
  using d = tempDir();
  using other = tempDir();
  seeded(d.path, 10);
  const table = `${d.path}/crontab.txt`;
  Deno.writeTextFileSync(table, "0 3 * * * /usr/bin/backup # someone else\n");
  const fake = `${d.path}/fake-crontab`;
  Deno.writeTextFileSync(
    fake,
    `#!/bin/sh\nif [ "$1" = "-l" ]; then cat "${table}"; else cat > "${table}"; fi\n`,
  );
  Deno.chmodSync(fake, 0o755);
  const env = { DEEPWATER_CRONTAB: fake };
  for (let i = 0; i < 2; i++) {
    const r = await runCli("deepwater-cleanup.ts", [
      "--install-cron",
      "--base-path",
      d.path,
      "--interval",
      "15",
    ], env);
    assertEquals(r.code, 0, r.stderr);
  }
  await runCli("deepwater-cleanup.ts", [
    "--install-cron",
    "--base-path",
    other.path,
    "--interval",
    "120",
  ], env);
  let text = Deno.readTextFileSync(table);
  const mine = text.split("\n").filter((l) => l.includes(`# deepwater-cleanup ${d.path}`));
  assertEquals(mine.length, 1);
  assert(
    mine[0]!.startsWith("*/15 * * * * ") && mine[0]!.includes("deepwater-cleanup.ts"),
    mine[0],
  );
  assert(text.includes(`0 */2 * * * `) && text.includes("# someone else"), text);
  let r = await runCli("deepwater-cleanup.ts", ["--uninstall-cron", "--base-path", d.path], env);
  assertEquals(r.code, 0);
  text = Deno.readTextFileSync(table);
  assert(
    !text.includes(`# deepwater-cleanup ${d.path}`) && text.includes(other.path) &&
      text.includes("# someone else"),
    text,
  );
  r = await runCli("deepwater-cleanup.ts", [
    "--install-cron",
    "--base-path",
    d.path,
    "--interval",
    "90",
  ], env);
  assertEquals(r.code, 2);
  r = await runCli("deepwater-cleanup.ts", ["--install-cron", "--base-path", d.path], {
    DEEPWATER_CRONTAB: "/nonexistent/crontab",
  });
  assertEquals(r.code, 2);
  assert(r.stderr.includes("Deno.cron"), r.stderr);
});

Deno.test("The Deno.cron entry point runs the same cleanup (--once)", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  seeded(d.path, 9000, (i) => (i < 2728 ? now - 2 * HOUR + i : now + i));
  const r = await runCli("cron.ts", ["--base-path", d.path, "--once"]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes("deleted 1 chunk(s)"), r.stdout);
  assertEquals(readAll(d.path).length, 9000 - 2728);
});

Deno.test("deepwater umbrella: feeds, info, query (table, csv, jsonl, ISO times), create-feed, tail", async () => {
  using d = tempDir();
  const t0 = Date.parse("2026-01-31T12:00:00Z") * 1000;
  seeded(d.path, 1000, (i) => t0 + i * 1000);
  let r = await runCli("deepwater.ts", ["feeds", "--base-path", d.path, "--json"]);
  assertEquals(JSON.parse(r.stdout)[0].records, 1000);
  r = await runCli("deepwater.ts", ["info", "trades", "--base-path", d.path, "--json"]);
  assertEquals(JSON.parse(r.stdout).recordSize, 24);
  r = await runCli("deepwater.ts", [
    "query",
    "trades",
    "--base-path",
    d.path,
    "--start",
    "2026-01-31T12:00:00.010Z",
    "--end",
    String(t0 + 12_000),
    "--format",
    "csv",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout.trim().split("\n"), [
    "price,size,timestamp_us",
    "10,21,1769860800010000",
    "11,23,1769860800011000",
    "12,25,1769860800012000",
  ]);
  r = await runCli("deepwater.ts", [
    "query",
    "trades",
    "--base-path",
    d.path,
    "--format",
    "jsonl",
    "--limit",
    "2",
  ]);
  assertEquals(r.stdout.trim().split("\n").map((l) => JSON.parse(l).price), [0, 1]);
  r = await runCli("deepwater.ts", [
    "query",
    "trades",
    "--base-path",
    d.path,
    "--start",
    "2026-01-31T12:00:00.999Z",
  ]);
  assert(r.stdout.includes("2026-01-31T12:00:00.999000Z"), r.stdout);
  r = await runCli("deepwater.ts", [
    "query",
    "trades",
    "--base-path",
    d.path,
    "--start",
    "yesterday",
  ]);
  assertEquals(r.code, 2);
  assert(r.stderr.includes("ISO-8601"), r.stderr);
  const spec = `${d.path}/quotes.json`;
  Deno.writeTextFileSync(spec, JSON.stringify(tradeSpec("quotes")));
  r = await runCli("deepwater.ts", ["create-feed", "--config", spec, "--base-path", d.path]);
  assertEquals(r.code, 0, r.stderr);
  r = await runCli("deepwater.ts", ["feeds", "--base-path", d.path]);
  assert(r.stdout.includes("quotes"), r.stdout);
  r = await runCli("deepwater.ts", ["frobnicate"]);
  assertEquals(r.code, 2);

  const tail = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // deepwater.ts reaches export.ts, whose npm packages only export.lock pins.
      "--lock",
      new URL("../export.lock", import.meta.url).pathname,
      new URL("../cli/deepwater.ts", import.meta.url).pathname,
      "tail",
      "trades",
      "--base-path",
      d.path,
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const errLines = lines(tail.stderr);
  assert(String((await errLines.next()).value).startsWith("tailing"));
  {
    using p = platformAt(d.path);
    writeTrades(p, "trades", 1000, 1003, (i) => t0 + i * 1000);
  }
  const out = lines(tail.stdout);
  const got = [];
  for (let i = 0; i < 3; i++) got.push(JSON.parse(String((await out.next()).value)).price);
  assertEquals(got, [1000, 1001, 1002]);
  tail.kill("SIGINT");
  assertEquals((await tail.status).code, 130);
});

Deno.test("SIGTERM closes writers cleanly (data intact, lock released) and keeps the application's own handler", async () => {
  using d = tempDir();
  seeded(d.path, 10);
  for (const mode of ["exit", "close"] as const) {
    const proc = child("signal_writer.ts", [d.path, mode]).spawn();
    const out = lines(proc.stdout);
    assertEquals((await out.next()).value, "writing");
    proc.kill("SIGTERM");
    const rest: string[] = [];
    for await (const l of out) rest.push(l);
    const status = await proc.status;
    await proc.stderr.cancel();
    assert(rest.includes("app handler ran"), rest.join("|"));
    if (mode === "exit") assertEquals(status.code, 143);
    else {
      assertEquals(status.code, 7); // the application's handler decided
      assert(rest.includes("writer closed: true"), rest.join("|"));
    }
    using p = platformAt(d.path);
    using w = p.createWriter("trades"); // the lock was released
    using r = p.createReader("trades");
    const all = [...r.read()].map((x) => x.price as number);
    assert(
      all.every((v, i) => v === i),
      `sequence intact (${mode}): ${JSON.stringify(all.slice(0, 14))} ... ${all.length}`,
    );
    w.close();
  }
});

Deno.test("deepwater <command> --help prints that command's usage on stdout, exits 0 and runs nothing", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  seeded(d.path, 6000, (i) => now - 3 * HOUR + i); // cleanup would delete 2 chunks
  const fresh = `${d.path}/not-created`;
  const cases = [
    ["feeds"],
    ["info"],
    ["tail"],
    ["query"],
    ["create-feed", "--base-path", fresh],
    ["cleanup", "--base-path", d.path],
    ["repair", "--all", "--base-path", d.path],
    ["health"],
  ];
  const runs = await Promise.all(cases.map((c) => runCli("deepwater.ts", [...c, "--help"])));
  runs.forEach((r, i) => {
    const cmd = cases[i]![0]!;
    assertEquals([r.code, r.stderr], [0, ""], `${cmd}: ${r.stdout}`);
    assert(r.stdout.startsWith(`usage: deepwater ${cmd}`), `${cmd}: ${r.stdout}`);
  });
  assert(runs[1]!.stdout.includes("--json"), runs[1]!.stdout);
  const help = await runCli("deepwater.ts", ["help", "query"]);
  assertEquals([help.code, help.stdout], [0, runs[3]!.stdout]);
  assert(!existsSync(fresh), "create-feed --help created the base path");
  assertEquals(readAll(d.path).length, 6000, "cleanup --help deleted chunks");
});

Deno.test("CLI usage errors go to stderr with exit 2, naming the command's usage", async () => {
  using d = tempDir();
  seeded(d.path, 10);
  const cases: [string, string[], string][] = [
    ["deepwater.ts", [], "usage: deepwater <command>"],
    ["deepwater.ts", ["info", "--base-path", d.path], "usage: deepwater info"],
    [
      "deepwater.ts",
      ["query", "trades", "--format", "xml", "--base-path", d.path],
      "usage: deepwater query",
    ],
    [
      "deepwater.ts",
      ["tail", "trades", "--wait", "nap", "--base-path", d.path],
      "usage: deepwater tail",
    ],
    ["deepwater.ts", ["feeds", "--bogus"], "usage: deepwater feeds"],
    ["cron.ts", ["--bogus"], "usage: cron.ts"],
  ];
  const runs = await Promise.all(cases.map(([tool, args]) => runCli(tool, args)));
  runs.forEach((r, i) => {
    const [tool, args, usage] = cases[i]!;
    const what = `${tool} ${args.join(" ")}`;
    assertEquals([r.code, r.stdout], [2, ""], `${what}: ${r.stderr}`);
    assert(r.stderr.includes(usage) && !r.stderr.includes("Uncaught"), `${what}: ${r.stderr}`);
  });
});

Deno.test("Contradictory and orphan flags are refused with exit 2 before anything runs", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  seeded(d.path, 6000, (i) => now - 3 * HOUR + i);
  const base = ["--base-path", d.path];
  const cases: [string, string[], string][] = [
    ["deepwater-repair.ts", [...base, "--all", "--feed", "trades"], "--all"],
    ["deepwater-health.ts", [...base, "--max-age-seconds", "60"], "--check-feeds"],
    ["deepwater-health.ts", [...base, "--max-future-seconds", "60"], "--check-feeds"],
    ["deepwater-cleanup.ts", [...base, "--interval", "5"], "--install-cron"],
    ["deepwater-cleanup.ts", [...base, "--install-cron", "--uninstall-cron"], "--uninstall-cron"],
    ["deepwater-cleanup.ts", [...base, "--install-cron", "--dry-run"], "--dry-run"],
    ["deepwater.ts", ["cleanup", ...base, "--interval", "5"], "--install-cron"],
    ["cron.ts", [...base, "--once", "--interval", "5"], "--once"],
  ];
  const env = { DEEPWATER_CRONTAB: "/nonexistent/crontab" };
  for (const [tool, args, names] of cases) {
    const r = await runCli(tool, args, env);
    const what = `${tool} ${args.slice(2).join(" ")}`;
    assertEquals([r.code, r.stdout], [2, ""], `${what}: ${r.stderr}`);
    assert(r.stderr.includes(names) && r.stderr.includes("usage:"), `${what}: ${r.stderr}`);
  }
  assertEquals(readAll(d.path).length, 6000, "a refused cleanup deleted chunks");
});

Deno.test("deepwater info prints a readable summary by default and the JSON report with --json", async () => {
  using d = tempDir();
  const t0 = Date.parse("2026-01-31T12:00:00Z") * 1000;
  seeded(d.path, 3000, (i) => t0 + i * 1000); // chunk 1 sealed (2728), chunk 2 live (272)
  let r = await runCli("deepwater.ts", ["info", "trades", "--base-path", d.path]);
  assertEquals(r.code, 0, r.stderr);
  assert(!r.stdout.trimStart().startsWith("{"), r.stdout);
  for (
    const want of [
      "trades",
      "3000 records",
      "24-byte",
      "2 chunk(s)",
      "64.0 KiB",
      "retention 1 h",
      "2026-01-31T12:00:00.000000Z",
      "2026-01-31T12:00:02.999000Z",
      "price",
      "float64",
      "Trade price",
      "sealed",
      "live",
    ]
  ) assert(r.stdout.includes(want), `missing "${want}":\n${r.stdout}`);
  assert(!/\d{7,} s\b/.test(r.stdout) && !r.stdout.includes("0.0 MiB"), r.stdout);
  r = await runCli("deepwater.ts", ["info", "trades", "--base-path", d.path, "--json"]);
  const info = JSON.parse(r.stdout);
  assertEquals([info.recordCount, info.chunkCount], [3000, 2]);
});

Deno.test("deepwater feeds shows chunk counts, sizes and the newest record's age in words", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  seeded(d.path, 3000, (i) => now - 2 * HOUR - 5 * 60e6 + i);
  {
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("empty"));
  }
  const r = await runCli("deepwater.ts", ["feeds", "--base-path", d.path]);
  assertEquals(r.code, 0, r.stderr);
  const [trades, empty] = ["trades", "empty"].map((n) =>
    r.stdout.split("\n").find((l) => l.startsWith(n)) ?? ""
  );
  assert(/ 2 chunks /.test(trades!) && trades!.includes("3000 records"), r.stdout);
  assert(trades!.includes("(2 h 5 min ago)") && /\d\.\d [KM]iB/.test(trades!), r.stdout);
  assert(/ 0 chunks /.test(empty!) && empty!.includes("empty"), r.stdout);
});

Deno.test("Health and cleanup print ages and sizes in words and units, never raw seconds or 0.0 MiB", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  seeded(d.path, 3000, (i) => now - 15 * HOUR - 53 * 60e6 + i);
  let r = await runCli("deepwater-health.ts", [
    "--base-path",
    d.path,
    "--check-feeds",
    "--max-age-seconds",
    "60",
    "--min-free-gb",
    "0",
  ]);
  assertEquals(r.code, 1, r.stdout + r.stderr);
  assert(r.stdout.includes("15 h 53 min old (limit 60 s)"), r.stdout);
  r = await runCli("deepwater-health.ts", ["--base-path", d.path, "--check-feeds"]);
  assert(r.stdout.includes("3000 records, newest 15 h 53 min old"), r.stdout);
  r = await runCli("deepwater-cleanup.ts", ["--base-path", d.path, "--dry-run"]);
  assertEquals(r.code, 0, r.stderr);
  assert(/would free \d+\.\d KiB/.test(r.stdout), r.stdout); // the sealed chunk is past retention
  r = await runCli("deepwater-cleanup.ts", ["--base-path", d.path]);
  assert(/freed \d+\.\d KiB/.test(r.stdout), r.stdout);
  r = await runCli("deepwater-cleanup.ts", ["--base-path", d.path, "--dry-run"]);
  assert(r.stdout.includes("would free 0 B"), r.stdout);
});

Deno.test("Health says how far ahead of the clock a feed's newest record is, and fails past a minute", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  {
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("skew"));
    writeTrades(p, "skew", 0, 10, (i) => now + 30e6 + i);
    p.createFeed(tradeSpec("ahead"));
    writeTrades(p, "ahead", 0, 10, (i) => now + 2 * HOUR + 30e6 + i);
  }
  const r = await runCli("deepwater-health.ts", [
    "--base-path",
    d.path,
    "--check-feeds",
    "--min-free-gb",
    "0",
  ]);
  assertEquals(r.code, 1, r.stdout + r.stderr);
  assert(
    /ok {3}feed skew: activity: 10 records, newest 2\d s ahead of the clock/.test(r.stdout),
    r.stdout,
  );
  assert(
    r.stdout.includes("FAIL feed ahead: activity: newest record is 2 h 0 min in the future"),
    r.stdout,
  );
});

Deno.test("The CLI's FEED_NOT_FOUND names the feeds there and deepwater create-feed, not the API", async () => {
  using d = tempDir();
  seeded(d.path, 10);
  for (const cmd of ["info", "query", "tail"]) {
    const r = await runCli("deepwater.ts", [cmd, "nope", "--base-path", d.path]);
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assert(r.stderr.includes("FEED_NOT_FOUND") && r.stderr.includes(`"trades"`), r.stderr);
    assert(
      r.stderr.includes("deepwater create-feed") && !r.stderr.includes("createFeed()"),
      r.stderr,
    );
  }
});
