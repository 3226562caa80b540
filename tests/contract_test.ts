/**
 * One feed contract, both storage kinds: the same scenarios run against a
 * chunk feed and a ring feed.
 */
import { assertEquals } from "./assert.ts";
import { removeRings, tempPlatform, tradeSpec } from "./helpers.ts";

for (const persist of [true, false]) {
  const kind = persist ? "chunk feed" : "ring feed";

  Deno.test(`Every stream() and readAvailable() keeps its own position (${kind})`, async () => {
    using t = tempPlatform();
    const p = t.platform;
    try {
      p.createFeed(tradeSpec("f", 0.0625, { persist }));
      using w = p.createWriter("f");
      using r = p.createReader("f");
      w.writeValues(1, 1, 1);
      w.writeValues(2, 2, 2);
      const signal = AbortSignal.timeout(2000);
      const a = r.stream({ signal });
      const b = r.stream({ signal });
      w.writeValues(3, 3, 3);
      w.writeValues(4, 4, 4);
      for (const s of [a, b]) {
        assertEquals((await s.next()).value?.price, 3);
        assertEquals((await s.next()).value?.price, 4);
      }
      assertEquals(r.readAvailable().map((x) => x.price), [1, 2, 3, 4]);
      await a.return?.();
      await b.return?.();
    } finally {
      removeRings(p);
    }
  });
}
