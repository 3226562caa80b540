// deno-lint-ignore-file no-console -- a program whose output is its job
// Child: tail a trade feed and verify every record until the sentinel (price -1).
// Records carry price = i, size = 2i + 1, timestamp_us = i; any tear, gap or
// duplicate is reported. Modes: "poll" (a tight synchronous readAvailable loop,
// which would spin forever if the commit load were hoisted), "block", "spin".
import { Platform } from "../../mod.ts";

const [base, feed, mode] = Deno.args as [string, string, "poll" | "block" | "spin"];
const p = new Platform(base, { log: { console: false } });
const r = p.createReader(feed);
let expect = 0;
let done = false;
function check(rec: Record<string, unknown>): void {
  const price = rec.price as number;
  if (price === -1) {
    done = true;
    return;
  }
  if (price !== expect || rec.size !== 2 * price + 1 || rec.timestamp_us !== price) {
    console.log(`fail at ${expect}: ${JSON.stringify(rec)}`);
    Deno.exit(1);
  }
  expect++;
}
// Both cursors are taken at the live head now, before the parent starts writing.
const live = mode === "poll" ? undefined : r.stream({ wait: mode });
console.log("ready");
if (!live) {
  while (!done) for (const rec of r.readAvailable(1024)) check(rec);
} else {
  for await (const rec of live) {
    check(rec);
    if (done) break;
  }
}
console.log(`ok ${expect}`);
p.close();
