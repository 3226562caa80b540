// deno-lint-ignore-file no-console -- a child reports to its parent on stdout
// Child: append to "trades" as fast as it can (64 KiB chunks rotate every
// 2728 records) until killed, after saying it started.
import { Platform } from "../../mod.ts";

const [base] = Deno.args as [string];
const p = new Platform(base, { log: { console: false }, signals: "none" });
const w = p.createWriter("trades");
const start = p.createReader("trades").count();
console.log("writing");
for (let i = start;; i++) {
  w.writeValues(i, 2 * i + 1, 1000 + i);
  if (i % 4096 === 0) await new Promise((r) => setTimeout(r, 0));
}
