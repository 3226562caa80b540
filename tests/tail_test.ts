/**
 * tail(): the synchronous zero-copy live tail, against the writer's own
 * sequence (an oracle: every record once, in order), across processes and
 * rotations, on chunk feeds and rings, spinning and blocking.
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { DeepwaterError } from "../mod.ts";
import { child, removeRings, tempPlatform, tradeSpec } from "./helpers.ts";
import { replayTs } from "./children/replay_writer.ts";

for (const wait of ["spin", "block"] as const) {
  Deno.test(`tail({ wait: "${wait}", from }) sees every record once, in order, while another process appends across rotations`, async () => {
    using t = tempPlatform();
    const p = t.platform;
    p.createFeed(tradeSpec("trades", 0.0625));
    const N = 30_000, seed = 11;
    const ts = replayTs(N, seed);
    const from = ts[2_000]!;
    const first = ts.indexOf(from);
    {
      using w = p.createWriter("trades"); // history before the call; a child appends the rest
      for (let i = 0; i < 5_000; i++) w.writeValues(i, 2 * i + 1, ts[i]!);
    }
    using reader = p.createReader("trades");
    const writer = child("replay_writer.ts", [t.dir, "5000", String(N), String(seed)]).spawn();
    const seen: number[] = [];
    let stale = 0;
    const n = await reader.tail((r) => {
      seen.push(r.price as number);
      if (r.timestamp_us !== ts[r.price as number]) stale++;
      return seen.length < N - first;
    }, { from, wait, signal: AbortSignal.timeout(30_000) });
    assertEquals((await writer.output()).code, 0);
    assertEquals(stale, 0);
    assertEquals(n, N - first);
    assert(seen.every((v, i) => v === first + i), "in order, no gap, no duplicate");
    assert(p.getFeedInfo("trades").chunks.length > 3, "across rotations");
  });
}

Deno.test("tail() ends when its signal aborts or its reader closes, and refuses consumer and a non-function", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  const reader = p.createReader("trades");
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  assertEquals(await reader.tail(() => {}, { signal: ac.signal, wait: "spin" }), 0);
  setTimeout(() => reader.close(), 50);
  assertEquals(await reader.tail(() => {}), 0);
  await assertRejects(() => reader.tail(() => {}), DeepwaterError, "closed");
  using r2 = p.createReader("trades");
  const e = await assertRejects(
    () => r2.tail(() => {}, { consumer: "x" } as never),
    DeepwaterError,
  );
  assertEquals((e as DeepwaterError).code, "INVALID_ARGUMENT");
  assert((e as Error).message.includes("consumer"), (e as Error).message);
  await assertRejects(() => r2.tail(5 as never), DeepwaterError, "function");
});

Deno.test("tail()'s view lives only inside the callback (CLOSED after), on a ring too", async () => {
  using t = tempPlatform();
  const p = t.platform;
  try {
    p.createFeed(tradeSpec("ticks", 0.0625, { persist: false }));
    using w = p.createWriter("ticks");
    using r = p.createReader("ticks");
    for (let i = 0; i < 100; i++) w.writeValues(i, 2 * i, 1_000 + i);
    let kept: Record<string, unknown> | undefined;
    let sum = 0;
    const n = await r.tail((v) => {
      kept = v;
      sum += v.size as number;
      return (v.price as number) < 99;
    }, { from: 0 });
    assertEquals(n, 100);
    assertEquals(sum, 2 * 99 * 100 / 2);
    const e = (() => {
      try {
        return kept!.price;
      } catch (e) {
        return e;
      }
    })();
    assert(e instanceof DeepwaterError && e.code === "CLOSED", String(e));
  } finally {
    removeRings(p);
  }
});
