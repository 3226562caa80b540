/**
 * One feed contract, both storage kinds: the same suite runs against a chunk
 * feed and a ring feed through the public types only (no casts), so a
 * behaviour that drifts between the two kinds fails here.
 */
import { assert, assertCode, assertEquals } from "./assert.ts";
import { removeRings, tempPlatform, tradeSpec } from "./helpers.ts";
import {
  type FeedReader,
  type FeedWriter,
  isRingReader,
  isRingWriter,
  type Platform,
} from "../mod.ts";

/** 24-byte trade records (price, size, timestamp) packed for writeBatch. */
function pack(rows: [number, number, number][]): Uint8Array {
  const bytes = new Uint8Array(rows.length * 24);
  const dv = new DataView(bytes.buffer);
  rows.forEach(([price, size, ts], i) => {
    dv.setFloat64(i * 24, price, true);
    dv.setFloat64(i * 24 + 8, size, true);
    dv.setBigUint64(i * 24 + 16, BigInt(ts), true);
  });
  return bytes;
}

/** A test body run on a platform holding feed "f" of one kind (rings removed afterwards). */
function withFeed(
  persist: boolean,
  body: (p: Platform) => Promise<void> | void,
): () => Promise<void> {
  return async () => {
    using t = tempPlatform();
    const p = t.platform;
    try {
      p.createFeed(tradeSpec("f", 0.0625, { persist }));
      await body(p);
    } finally {
      removeRings(p);
    }
  };
}

const prices = (records: Iterable<Record<string, unknown>>) => [...records].map((x) => x.price);

for (const persist of [true, false]) {
  const kind = persist ? "chunk feed" : "ring feed";

  Deno.test(
    `Every stream() and readAvailable() keeps its own position (${kind})`,
    withFeed(persist, async (p) => {
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
    }),
  );

  Deno.test(
    `writeValues, write and writeBatch commit the same records in order (${kind})`,
    withFeed(persist, (p) => {
      using w = p.createWriter("f");
      using r = p.createReader("f");
      w.writeValues(10, 1, 100);
      w.write({ price: 11, size: 2, timestamp_us: 101 });
      w.writeBatch(pack([[12, 3, 102], [13, 4, 103]]));
      w.writeBatch(new Uint8Array(0));
      w.flush();
      assertEquals([...r.read()], [
        { price: 10, size: 1, timestamp_us: 100 },
        { price: 11, size: 2, timestamp_us: 101 },
        { price: 12, size: 3, timestamp_us: 102 },
        { price: 13, size: 4, timestamp_us: 103 },
      ]);
    }),
  );

  Deno.test(
    `read, count and latest answer inclusive time ranges alike (${kind})`,
    withFeed(persist, (p) => {
      using w = p.createWriter("f");
      using r = p.createReader("f");
      assertEquals(r.latest(), undefined);
      assertEquals(r.count(), 0);
      for (let i = 0; i < 50; i++) w.writeValues(i, 1, 1_000 + i);
      assertEquals(prices(r.read(1_010, 1_012)), [10, 11, 12]);
      assertEquals(prices(r.read(1_048)), [48, 49]);
      assertEquals(prices(r.read(undefined, 1_001)), [0, 1]);
      assertEquals(prices(r.read(2_000n, 3_000n)), []);
      assertEquals(r.count(1_010, 1_019), 10);
      assertEquals(r.count(), 50);
      assertEquals(r.latest()?.price, 49);
      assertCode(() => r.read(Number.NaN), "INVALID_ARGUMENT", "startUs");
    }),
  );

  Deno.test(
    `64-bit integers come back as BigInt with the bigint option (${kind})`,
    withFeed(persist, (p) => {
      using w = p.createWriter("f");
      using r = p.createReader("f", { bigint: true });
      w.writeValues(1, 1, 2 ** 40);
      assertEquals(r.latest()?.timestamp_us, 2n ** 40n);
    }),
  );

  Deno.test(
    `A bad value or batch throws INVALID_VALUE and commits nothing (${kind})`,
    withFeed(persist, (p) => {
      using w = p.createWriter("f");
      using r = p.createReader("f");
      w.writeValues(1, 1, 1);
      assertCode(() => w.writeValues(1, 1), "INVALID_VALUE", "expected 3");
      assertCode(() => w.writeValues("x", 1, 2), "INVALID_VALUE", "price");
      assertCode(() => w.write({ price: 1, size: 1 }), "INVALID_VALUE", "timestamp_us");
      assertCode(() => w.writeBatch(new Uint8Array(25)), "INVALID_VALUE", "whole number");
      assertCode(() => w.writeBatch([1, 2] as unknown as Uint8Array), "INVALID_VALUE");
      assertEquals(prices(r.read()), [1]);
      assertEquals(r.readAvailable().length, 1);
    }),
  );

  Deno.test(
    `A second writer is WRITER_LOCKED, and a closed writer's lock is free again (${kind})`,
    withFeed(persist, (p) => {
      const w = p.createWriter("f");
      assertCode(() => p.createWriter("f"), "WRITER_LOCKED");
      w.close();
      using again = p.createWriter("f");
      assert(again.isOpen);
    }),
  );

  Deno.test(
    `Closed writers and readers throw CLOSED; close is idempotent (${kind})`,
    withFeed(persist, async (p) => {
      const w: FeedWriter = p.createWriter("f");
      const r: FeedReader = p.createReader("f");
      await w.ready;
      w.writeValues(1, 1, 1);
      w.close();
      w.close();
      w[Symbol.dispose]();
      assertEquals(w.isOpen, false);
      assertCode(() => w.writeValues(2, 2, 2), "CLOSED");
      assertCode(() => w.write({ price: 2, size: 2, timestamp_us: 2 }), "CLOSED");
      assertCode(() => w.writeBatch(pack([[2, 2, 2]])), "CLOSED");
      w.flush(); // nothing left to flush: a no-op, not an error
      r.close();
      r[Symbol.dispose]();
      assertEquals(r.isOpen, false);
      assertCode(() => r.read(), "CLOSED");
      assertCode(() => r.count(), "CLOSED");
      assertCode(() => r.latest(), "CLOSED");
      assertCode(() => r.readAvailable(), "CLOSED");
      assertCode(() => r.stream(), "CLOSED");
    }),
  );

  Deno.test(
    `A running stream ends when its reader closes (${kind})`,
    withFeed(persist, async (p) => {
      using w = p.createWriter("f");
      const r = p.createReader("f");
      const s = r.stream();
      w.writeValues(1, 1, 1);
      assertEquals((await s.next()).value?.price, 1);
      const pending = s.next();
      r.close();
      assertEquals((await pending).done, true);
    }),
  );

  Deno.test(
    `kind and the type guards tell the storage apart (${kind})`,
    withFeed(persist, (p) => {
      using w = p.createWriter("f");
      using r = p.createReader("f");
      assertEquals([w.kind, r.kind], persist ? ["chunks", "chunks"] : ["ring", "ring"]);
      assertEquals([isRingWriter(w), isRingReader(r)], [!persist, !persist]);
      if (isRingReader(r) && isRingWriter(w)) {
        for (let i = 0; i < 3; i++) w.writeValues(i, 1, i);
        assertEquals([r.lost, r.capacity, r.shmName], [0, w.capacity, w.shmName]);
        assert(r.shmName.startsWith("/"), r.shmName);
      }
    }),
  );
}
