// deno-lint-ignore-file no-console -- a child reports to its parent on stdout
// Child: stream "trades" as a named consumer from the start and append each
// record's price to OUT (one write per record: the loop body), after a line
// "S" marking this run; exits 0 after the record priced LAST. With --hold it
// only opens the stream, says "ready" and waits (to hold the consumer's lock).
import { DeepwaterError, Platform } from "../../mod.ts";

const [base, consumer, out, last, mode] = Deno.args as [string, string, string, string, string?];
const p = new Platform(base, { log: { console: false }, signals: "none" });
const r = p.createReader("trades");
let live: AsyncIterableIterator<Record<string, unknown>>;
try {
  live = r.stream({ consumer, from: 0 });
} catch (e) {
  console.log(e instanceof DeepwaterError ? e.code : String(e));
  Deno.exit(3);
}
if (mode === "--hold") {
  console.log("ready");
  setInterval(() => {}, 1000);
} else {
  const f = Deno.openSync(out, { append: true, create: true });
  const enc = new TextEncoder();
  f.writeSync(enc.encode("S\n"));
  console.log("ready");
  for await (const rec of live) {
    f.writeSync(enc.encode(`${rec.price}\n`));
    const until = performance.now() + 0.25; // some work, so a kill lands mid-stream
    while (performance.now() < until) { /* busy */ }
    if (rec.price === Number(last)) break;
  }
  f.close();
  r.close();
  p.close();
}
