import { assert, assertCode, assertEquals, assertThrows } from "./assert.ts";
import { DW, native } from "../lib/native/binding.ts";
import {
  COMMIT_FAULTED,
  COMMIT_WAKE,
  Doorbell,
  NO_WORD,
  WAIT_TIMEOUT_NS,
} from "../lib/native/doorbell.ts";
import { FileLock } from "../lib/native/lock.ts";
import { FaultWatch, Mapping } from "../lib/native/mapping.ts";
import { SeqSlots } from "../lib/native/seqlock.ts";
import { DeepwaterError } from "../lib/base/errors.ts";
import { rng, tempDir } from "./helpers.ts";

/** Bytes at and above which dw_copy_scan streams (DW_STREAM_MIN_BYTES in c/search.c). */
const STREAM_MIN = 2 << 20;

function addr(a: Uint8Array<ArrayBuffer>): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a)!));
}

/** What dw_scan_ts reports, computed in TypeScript: the oracle. */
function scanOracle(bytes: Uint8Array, count: number, stride: number, off: number): bigint[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let min = 2n ** 64n - 1n, max = 0n, prev = 0n, sorted = 1n;
  for (let i = 0; i < count; i++) {
    const t = dv.getBigUint64(i * stride + off, true);
    if (t < min) min = t;
    if (t > max) max = t;
    if (t < prev) sorted = 0n;
    prev = t;
  }
  const first = dv.getBigUint64(off, true);
  return [min, max, first, prev, sorted, max > 2n ** 53n - 1n ? 1n : 0n];
}

/** Byte equality, 32 bits at a time on an aligned copy. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const n = Math.ceil(a.length / 4) * 4;
  const x = new Uint8Array(n), y = new Uint8Array(n);
  x.set(a);
  y.set(b);
  const p = new Uint32Array(x.buffer), q = new Uint32Array(y.buffer);
  for (let i = 0; i < p.length; i++) if (p[i] !== q[i]) return false;
  return true;
}

Deno.test("dw_copy_scan copies exactly and scans like the oracle, streamed or not, for every record shape", () => {
  const rand = rng(7);
  const out = new BigUint64Array(6);
  const cases: [stride: number, off: number][] = [
    [8, 0],
    [16, 8],
    [24, 16],
    [24, 0],
    [32, 24],
    [40, 8],
    [48, 40],
    [56, 16],
    [64, 56],
    [72, 64], // beyond the streamed shapes: block path
    [25, 17], // stride not a multiple of 8: block path
    [24, 12], // unaligned timestamp: block path
  ];
  for (const [stride, off] of cases) {
    for (const bytesWanted of [STREAM_MIN - stride, STREAM_MIN + 5 * stride]) {
      const count = Math.ceil(bytesWanted / stride);
      for (const order of ["sorted", "descent", "big"] as const) {
        // Alignment matters to the copy, order to the scan: vary alignment once.
        for (const misalign of order === "sorted" ? [0, 8, 4] : [0]) {
          const src = new Uint8Array(Math.ceil((count * stride) / 4) * 4).subarray(
            0,
            count * stride,
          );
          const words = new Uint32Array(src.buffer);
          for (let i = 0; i < words.length; i++) words[i] = (rand() * 2 ** 32) >>> 0;
          const sdv = new DataView(src.buffer);
          let t = 1_700_000_000_000_000n;
          for (let i = 0; i < count; i++) {
            t += BigInt((rand() * 3) | 0);
            let v = t;
            if (order === "descent" && i === count >> 1) v = 5n;
            if (order === "big" && i === count - 3) v = 2n ** 60n;
            sdv.setBigUint64(i * stride + off, v, true);
          }
          const dstBuf = new Uint8Array(src.length + 64);
          const at = addr(dstBuf);
          const pad = Number((8n - (at % 8n)) % 8n) + misalign; // force the misalignment asked
          const rc = native().dw_copy_scan(
            at + BigInt(pad),
            addr(src),
            BigInt(count),
            stride,
            off,
            out,
          );
          assertEquals(rc, 0);
          const dst = dstBuf.subarray(pad, pad + src.length);
          const what = `stride ${stride} off ${off} count ${count} ${order} misalign ${misalign}`;
          assertEquals(sameBytes(dst, src), true, `bytes differ: ${what}`);
          assertEquals([...out], scanOracle(dst, count, stride, off), what);
        }
      }
    }
  }
});

Deno.test("FileLock excludes other holders until closed, closes idempotently, and probe sees it", () => {
  using d = tempDir();
  const path = `${d.path}/feed.lock`;
  assertEquals(FileLock.probe(path, "Cannot probe"), false); // no file yet: never held
  const held = FileLock.acquire(path, { wait: false, action: "Cannot take it" });
  assertEquals(FileLock.probe(path, "Cannot probe"), true);
  assertEquals(FileLock.tryAcquire(path, { action: "Cannot take it" }), undefined);
  assertCode(
    () => FileLock.acquire(path, { wait: false, action: "Cannot take it" }),
    "WRITER_LOCKED",
    `Cannot take it "${path}"`,
  );
  assertEquals(FileLock.tryAcquire(path, { shared: true, action: "Cannot share it" }), undefined);
  held.close();
  held.close();
  assertEquals(FileLock.probe(path, "Cannot probe"), false);
  {
    using a = FileLock.acquire(path, { wait: true, shared: true, action: "Cannot share it" });
    using b = FileLock.tryAcquire(path, { shared: true, action: "Cannot share it" });
    assert(a && b, "two shared holders coexist");
    assertEquals(FileLock.tryAcquire(path, { action: "Cannot take it" }), undefined);
  }
  using again = FileLock.tryAcquire(path, { action: "Cannot take it" });
  assert(again, "free again once both shared holders are disposed");
});

Deno.test("Doorbell.wait() returns at its timeout without a ring, on a ring, and at once on an abort", async (t) => {
  using d = tempDir();
  using map = Mapping.file(`${d.path}/bell`, { length: 4096, write: true, create: true });
  const fields = { notifySeq: 128, waiters: 192 };
  const bell = new Doorbell(map, fields);
  const waiters = () => new Uint32Array(map.buffer)[fields.waiters >> 2];
  const timeoutMs = Number(WAIT_TIMEOUT_NS) / 1e6;

  await t.step("without a ring it sleeps about the timeout, registered as a waiter", async () => {
    const t0 = performance.now();
    const done = bell.wait(() => false);
    assertEquals(bell.hasWaiters(), true);
    await done;
    const ms = performance.now() - t0;
    assert(ms >= timeoutMs * 0.9 && ms < timeoutMs * 10, `returned after ${ms} ms`);
    assertEquals(waiters(), 0);
  });

  await t.step("news already there, or a signal already aborted: no sleep", async () => {
    const t0 = performance.now();
    await bell.wait(() => true);
    await bell.wait(() => false, undefined, AbortSignal.abort());
    assert(performance.now() - t0 < timeoutMs, "slept although it had no reason to");
    assertEquals(waiters(), 0);
  });

  await t.step("a ring or an abort during the sleep ends it before the timeout", async () => {
    for (const end of ["ring", "abort"] as const) {
      const ac = new AbortController();
      const t0 = performance.now();
      const done = bell.wait(() => false, ac.signal);
      setTimeout(() => end === "ring" ? bell.ring() : ac.abort(), 5);
      await done;
      const ms = performance.now() - t0;
      assert(
        ms < timeoutMs,
        `${end}: returned after ${ms} ms, not before the ${timeoutMs} ms timeout`,
      );
      assertEquals(waiters(), 0);
    }
  });
});

Deno.test("Doorbell.commit stores its words and reports waiters and faults; dw_commit refuses a bad base", async () => {
  using d = tempDir();
  using map = Mapping.file(`${d.path}/bell`, { length: 4096, write: true, create: true });
  const fields = { notifySeq: 128, waiters: 192 };
  const bell = new Doorbell(map, fields);
  const u32 = new Uint32Array(map.buffer);
  const seen = new FaultWatch().seen;

  assertEquals(bell.commit(10, 7, NO_WORD, 99, seen), 0, "nobody waits, nothing faulted");
  assertEquals([u32[10], u32[11]], [7, 0], "one word stored, NO_WORD skipped");
  assertEquals(bell.commit(10, 0xffffffff, 11, 0x80000000, seen), 0);
  assertEquals([u32[10], u32[11]], [0xffffffff, 0x80000000], "both words, full u32 range");
  assertEquals(bell.commit(10, 8, NO_WORD, 0, (seen + 1) >>> 0), COMMIT_FAULTED);

  const ac = new AbortController();
  const waiting = bell.wait(() => false, ac.signal);
  assertEquals(
    bell.commit(10, 9, NO_WORD, 0, seen),
    COMMIT_WAKE,
    "a registered waiter is reported",
  );
  assertEquals(
    bell.commit(10, 9, NO_WORD, 0, (seen + 1) >>> 0),
    COMMIT_WAKE | COMMIT_FAULTED,
  );
  ac.abort();
  await waiting;
  assertEquals(bell.commit(10, 10, NO_WORD, 0, seen), 0, "the waiter left");

  assertEquals(native().dw_commit(0n, 0, 0, NO_WORD, 0, 1, seen), DW.EINVAL);
  assertEquals(native().dw_commit(map.addr + 2n, 0, 0, NO_WORD, 0, 1, seen), DW.EINVAL);
});

Deno.test("SeqSlots: claim marks a slot, read copies only a complete slot, ranges are checked first", () => {
  using d = tempDir();
  using map = Mapping.file(`${d.path}/slots`, { length: 4096, write: true, create: true });
  const slots = new SeqSlots(map);
  const u32 = new Uint32Array(map.buffer), u8 = new Uint8Array(map.buffer);
  const out = new Uint8Array(new ArrayBuffer(16));

  slots.claim(16, 7); // slot sequence word at byte 64, payload at 72
  assertEquals(u32[16], 7);
  u8.set([1, 2, 3, 4], 72);
  assertEquals(slots.read(out, 0, 16, 8, 72, 4), false, "odd: being written");
  Atomics.store(u32, 16, 8);
  assertEquals(slots.read(out, 4, 16, 8, 72, 4), true);
  assertEquals([...out.subarray(4, 8)], [1, 2, 3, 4], "copied at the offset asked");
  assertEquals(slots.read(out, 0, 16, 10, 72, 4), false, "another generation");
  // A second destination: the cached address follows it.
  const other = new Uint8Array(new ArrayBuffer(8));
  assertEquals(slots.read(other, 0, 16, 8, 72, 4), true);
  assertEquals([...other.subarray(0, 4)], [1, 2, 3, 4]);

  const code = (f: () => unknown) => assertThrows(f, DeepwaterError).code;
  assertEquals(code(() => slots.read(out, 0, 16, 8, 4094, 4)), "CORRUPT", "past the mapping");
  assertEquals(code(() => slots.read(out, 0, 1024, 8, 72, 4)), "CORRUPT", "word past the mapping");
  assertEquals(code(() => slots.claim(1024, 1)), "CORRUPT");
  assertEquals(code(() => slots.read(out, 14, 16, 8, 72, 4)), "INVALID_ARGUMENT", "past dst");
  // Negative offsets (an int32 shift of a huge one) never reach C as a wrapped u32.
  assertEquals(code(() => slots.read(out, 0, -1, 8, 72, 4)), "CORRUPT", "negative word");
  assertEquals(code(() => slots.read(out, 0, 16, 8, -8, 4)), "CORRUPT", "negative offset");
  assertEquals(code(() => slots.claim(-2, 1)), "CORRUPT");
  assertEquals(code(() => slots.read(out, -4, 16, 8, 72, 4)), "INVALID_ARGUMENT", "negative at");
  assertEquals(native().dw_seq_claim(0n, 0, 1), DW.EINVAL);
  assertEquals(native().dw_seq_read(null, 0, map.addr, 16, 8, 72, 4), DW.EINVAL);
});
