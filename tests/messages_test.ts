import { assert, assertCode, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import { checkHealth } from "../lib/ops/health.ts";
import { runCli, tempDir, tempPlatform, tradeSpec, writeTrades } from "./helpers.ts";

const NOW = 1_800_000_000_000_000;

function open(dir: string): Platform {
  return new Platform(dir, { log: { console: false }, signals: "none" });
}

Deno.test("A damaged manifest's message names deepwater-repair, and repair writes a new one", async () => {
  using d = tempDir();
  open(d.path).close();
  for (const text of ["{not json", JSON.stringify({ package_version: "0.1.0" })]) {
    Deno.writeTextFileSync(`${d.path}/manifest.json`, text);
    const e = assertCode(() => open(d.path), "CORRUPT", `${d.path}/manifest.json`);
    assert(/run deepwater-repair/.test(e.message), e.message);
    const r = await runCli("deepwater-repair.ts", ["--base-path", d.path, "--all"]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assert(r.stdout.includes("manifest-corrupt"), r.stdout);
    open(d.path).close();
  }
});

Deno.test("A marker file with a bad header names deepwater-repair, and following it restores playback", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("book", 0.0625, { index_playback: true }));
  {
    using w = p.createWriter("book");
    w.write({ price: 1, size: 3, timestamp_us: 1 }, { createIndex: true });
  }
  const markers = `${t.dir}/feeds/book/markers.dwm`;
  using f = Deno.openSync(markers, { write: true });
  f.writeSync(new Uint8Array(4)); // the magic number
  using r = p.createReader("book");
  let message = "";
  try {
    await r.stream({ playback: true }).next();
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
  }
  assert(message.includes(markers) && /run deepwater-repair/.test(message), message);
  // Following the advice: repair moves the marker file to quarantine, and the
  // writer starts a new one with its next marker.
  const fixed = await runCli("deepwater-repair.ts", ["--base-path", t.dir, "--all"]);
  assertEquals(fixed.code, 0, fixed.stdout + fixed.stderr);
  assert(fixed.stdout.includes("markers-damaged"), fixed.stdout);
  {
    using w = p.createWriter("book");
    w.write({ price: 2, size: 5, timestamp_us: 2 }, { createIndex: true });
  }
  using r2 = p.createReader("book");
  assertEquals((await r2.stream({ playback: true }).next()).value?.price, 2);
});

Deno.test("A ring with a bad header says how to remove it, not to run deepwater-cleanup (which skips rings)", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("live", 0.0625, { persist: false }));
  {
    using w = p.createWriter("live");
    w.writeValues(1, 3, 1);
  }
  const shm = p.getFeedInfo("live").ring!.shm;
  try {
    {
      using f = Deno.openSync(`/dev/shm${shm}`, { write: true });
      f.writeSync(new Uint8Array(4)); // the magic number
    }
    const e = assertCode(() => p.createReader("live"), "CORRUPT", shm);
    assert(e.message.includes("removeRing") && e.message.includes("leave rings alone"), e.message);
  } finally {
    p.removeRing("live"); // the broken ring must not outlive the test
  }
});

Deno.test("Health flags a newest record more than 60 s in the future (tolerance adjustable)", async () => {
  using d = tempDir();
  {
    using p = open(d.path);
    p.createFeed(tradeSpec("ahead"));
    writeTrades(p, "ahead", 0, 10, (i) => NOW + 3600e6 + i);
    p.createFeed(tradeSpec("skew"));
    writeTrades(p, "skew", 0, 10, (i) => NOW + 30e6 + i);
  }
  let report = checkHealth(d.path, { checkFeeds: true, nowUs: NOW, minFreeGb: 0 });
  assertEquals(report.healthy, false);
  const bad = report.checks.filter((c) => !c.ok);
  assertEquals(bad.map((c) => c.name), ["feed ahead: activity"]);
  assert(bad[0]!.detail.includes("1 h 0 min in the future"), bad[0]!.detail);
  assertEquals(report.feeds.map((f) => f.ok), [false, true]);
  report = checkHealth(d.path, {
    checkFeeds: true,
    nowUs: NOW,
    minFreeGb: 0,
    maxFutureSeconds: 7200,
  });
  assertEquals(report.healthy, true, JSON.stringify(report.checks));
  // The CLI, with the real clock: an hour ahead is unhealthy unless tolerated.
  using d2 = tempDir();
  {
    using p = open(d2.path);
    p.createFeed(tradeSpec("ahead"));
    writeTrades(p, "ahead", 0, 10, (i) => Date.now() * 1000 + 3600e6 + i);
  }
  const args = ["--base-path", d2.path, "--check-feeds", "--min-free-gb", "0"];
  let r = await runCli("deepwater-health.ts", args);
  assertEquals(r.code, 1, r.stdout + r.stderr);
  assert(r.stdout.includes("in the future"), r.stdout);
  r = await runCli("deepwater-health.ts", [...args, "--max-future-seconds", "7200"]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
});
