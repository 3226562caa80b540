// deno-lint-ignore-file no-console -- a child reports to its parent on stdout
// Child: append `total` trade records to "trades" in `base`, `perBatch` at a
// time with a pause of `pauseMs` between batches (a live feed). Record i has
// price i, size 2i + 1 and timestamp 1e15 + floor(i / 3): runs of equal
// timestamps that batches and messages cut through. Prints "done N".
import { Platform } from "../../mod.ts";
import { tradeSpec } from "../helpers.ts";

const [base, total, perBatch, pauseMs] = Deno.args as [string, string, string, string];
const p = new Platform(base, { log: { console: false }, signals: "none" });
p.createFeed(tradeSpec("trades", 1));
const w = p.createWriter("trades");
const n = Number(total), batch = Number(perBatch), pause = Number(pauseMs);
const bytes = new Uint8Array(batch * 24);
const view = new DataView(bytes.buffer);
for (let i = p.createReader("trades").count(); i < n;) {
  const m = Math.min(batch, n - i);
  for (let j = 0; j < m; j++, i++) {
    view.setFloat64(j * 24, i, true);
    view.setFloat64(j * 24 + 8, 2 * i + 1, true);
    view.setBigUint64(j * 24 + 16, 1_000_000_000_000_000n + BigInt(Math.floor(i / 3)), true);
  }
  w.writeBatch(bytes.subarray(0, m * 24));
  if (pause > 0) await new Promise((r) => setTimeout(r, pause));
}
w.close();
p.close();
console.log(`done ${n}`);
