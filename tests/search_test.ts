/**
 * The in-chunk timestamp search against a linear-scan oracle, on evenly
 * spread, bursty, duplicated, gapped and constant timestamps, aligned and
 * unaligned layouts, and on damaged (unsorted, beyond 2^53) data, where it
 * must still end within the run.
 */
import { assert, assertEquals } from "./assert.ts";
import { searchTs } from "../lib/chunks/search.ts";
import { rng } from "./helpers.ts";

Deno.test("searchTs finds lower and upper bounds like a linear-scan oracle on uniform, bursty, duplicated and gapped timestamps", () => {
  const rand = rng(3);
  const shapes: Record<string, (i: number, prev: bigint) => bigint> = {
    uniform: (i) => 1_700_000_000_000_000n + BigInt(i) * 10n,
    bursty: (_i, prev) => prev + (rand() < 0.001 ? 5_000_000n : BigInt((rand() * 3) | 0)),
    exponential: (i) => BigInt(Math.floor(1.0001 ** i)),
    duplicates: (i) => BigInt(Math.floor(i / 5000)),
    gap: (i) => (i < 60_000 ? BigInt(i) : 10n ** 15n + BigInt(i)),
    constant: () => 42n,
  };
  for (const [name, tsOf] of Object.entries(shapes)) {
    for (const [stride, off] of [[24, 16], [32, 0], [17, 5]] as const) {
      const n = 100_000;
      const buf = new Uint8Array(n * stride);
      const dv = new DataView(buf.buffer);
      const ts: bigint[] = [];
      let prev = 1_000n;
      for (let i = 0; i < n; i++) {
        prev = tsOf(i, prev);
        ts.push(prev);
        dv.setBigUint64(i * stride + off, prev, true);
      }
      const targets = [
        0n,
        ts[0]!,
        ts[0]! > 0n ? ts[0]! - 1n : 0n,
        ts[n - 1]!,
        ts[n - 1]! + 1n,
        2n ** 63n,
      ];
      for (let k = 0; k < 300; k++) {
        const t = ts[Math.floor(rand() * n)]!;
        targets.push(t, t + 1n, t > 0n ? t - 1n : 0n);
      }
      const tsn = Float64Array.from(ts, Number); // exact: every one is below 2^53
      for (const t of targets) {
        for (const upper of [0, 1]) {
          const tn = Number(t);
          let want = 0;
          while (want < n && (upper ? tsn[want]! <= tn : tsn[want]! < tn)) want++;
          const got = searchTs(dv, off, stride, n, Number(t), upper === 1);
          assertEquals(got, want, `${name} stride ${stride} target ${t} upper ${upper}`);
        }
      }
    }
  }
});

Deno.test("searchTs on damaged data (unsorted, beyond 2^53, NaN-making) ends with an index within the run", () => {
  const rand = rng(17);
  for (const stride of [8, 24, 13]) {
    const n = 5_000;
    const dv = new DataView(new ArrayBuffer(n * stride));
    for (let trial = 0; trial < 20; trial++) {
      for (let i = 0; i < n; i++) {
        const hi = trial % 2 ? 0xffffffff : (rand() * 0x200000) | 0; // beyond 2^53 on odd trials
        dv.setUint32(i * stride + 4, rand() < 0.5 ? hi : 0, true);
        dv.setUint32(i * stride, (rand() * 0x100000000) >>> 0, true);
      }
      for (const t of [0, 1, 2 ** 52, 2 ** 53, 2 ** 64, rand() * 2 ** 60]) {
        for (const upper of [false, true]) {
          const i = searchTs(dv, 0, stride, n, t, upper);
          assert(Number.isInteger(i) && i >= 0 && i <= n, `index ${i} for stride ${stride}`);
        }
      }
    }
  }
});
