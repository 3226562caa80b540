// deno-lint-ignore-file no-console -- a program whose output is its job
// Child: stream a ring feed until the sentinel (price -1). Records carry
// price = i, size = 2i + 1, timestamp_us = i. Gaps are allowed (overruns) but
// must be accounted for by `lost`; a torn or reordered record is a failure.
import { Platform } from "../../mod.ts";

const [base, feed, mode] = Deno.args as [string, string, "block" | "spin"];
const p = new Platform(base, { log: { console: false } });
const r = p.createReader(feed);
let received = 0, reported = 0, last = -1;
const live = r.stream({ wait: mode, onOverrun: (n) => (reported += n) });
console.log("ready");
for await (const rec of live) {
  const price = rec.price as number;
  if (price === -1) break;
  if (price <= last || rec.size !== 2 * price + 1 || rec.timestamp_us !== price) {
    console.log(`fail after ${last}: ${JSON.stringify(rec)}`);
    Deno.exit(1);
  }
  last = price;
  received++;
}
console.log(`ok ${received} ${reported} ${last}`);
p.close();
