// Child: keep reading (read() over everything; or columns(), batches(),
// cursor() or visit()), streaming (stream()) or writing (writeValues) a feed
// until an error ends it, printing progress.
// The parent truncates a chunk or ring under it from another process; the
// child must end with `CORRUPT: <message>` and exit code 3, never a signal.
import { DeepwaterError, Platform } from "../../mod.ts";

type Role = "read" | "columns" | "batches" | "cursor" | "visit" | "stream" | "write";
const [role, base, feed] = Deno.args as [Role, string, string];
const p = new Platform(base, { log: { console: false }, signals: "none" });
const say = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
try {
  if (role === "read") {
    using r = p.createReader(feed);
    for (;;) {
      let n = 0;
      for (const _ of r.read()) n++;
      say(`pass ${n}`);
    }
  } else if (role === "columns" || role === "batches" || role === "cursor" || role === "visit") {
    using r = p.createReader(feed);
    for (;;) {
      let n = 0;
      if (role === "columns") n = r.columns(undefined, undefined, ["price"]).price!.length;
      else if (role === "batches") { for (const b of r.batches()) n += b.length / 24; }
      else if (role === "visit") {
        // Use what is read: an unused load may be optimized away.
        let sum = 0;
        n = r.visit(undefined, undefined, (v) => void (sum += v.price as number));
        if (sum < 0) say("negative");
      } else {
        using c = r.cursor();
        for (let v; (v = c.next());) if ((v.price as number) >= 0) n++;
      }
      say(`pass ${n}`);
    }
  } else if (role === "stream") {
    using r = p.createReader(feed);
    let n = 0;
    say("ready");
    for await (const _ of r.stream()) if (++n % 1000 === 0) say(`got ${n}`);
  } else {
    using w = p.createWriter(feed);
    for (let i = 0;; i++) {
      w.writeValues(i, 2 * i + 1, i);
      if (i % 1000 === 999) {
        say(`wrote ${i + 1} chunk ${"chunkId" in w ? w.chunkId : 0}`);
        await new Promise((r) => setTimeout(r, 2)); // let the test's processes interleave
      }
    }
  }
} catch (e) {
  say(e instanceof DeepwaterError ? `${e.code}: ${e.message}` : `other: ${e}`);
  Deno.exit(3);
}
