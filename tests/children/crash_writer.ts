// Child: append price = i, size = 2i + 1, ts = i forever (resuming after the last
// committed record), in random batch sizes and styles, printing how many records
// have returned from a write call. The parent kills it with SIGKILL.
import { Platform } from "../../mod.ts";

const [base, feed, seedArg] = Deno.args as [string, string, string];
const p = new Platform(base, { log: { console: false } });
const w = p.createWriter(feed);
let next = p.createReader(feed).count();
let seed = Number(seedArg) >>> 0;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
const enc = new TextEncoder();
for (;;) {
  const k = 1 + Math.floor(rand() * 3000);
  if (rand() < 0.5) {
    const buf = new Uint8Array(k * 24);
    const dv = new DataView(buf.buffer);
    for (let j = 0; j < k; j++) {
      const i = next + j;
      dv.setFloat64(j * 24, i, true);
      dv.setFloat64(j * 24 + 8, 2 * i + 1, true);
      dv.setBigUint64(j * 24 + 16, BigInt(i), true);
    }
    w.writeBatch(buf);
  } else {
    for (let j = 0; j < k; j++) {
      const i = next + j;
      w.writeValues(i, 2 * i + 1, i);
    }
  }
  next += k;
  Deno.stdout.writeSync(enc.encode(`${next}\n`));
}
