// Child (run inside a mount namespace whose /dev/shm is a tiny tmpfs): create a
// ring feed larger than /dev/shm and fill it. Prints `<CODE>: <message>` for a
// DeepwaterError, or "wrote" if every write succeeded.
import { DeepwaterError, Platform } from "../../mod.ts";

const [base] = Deno.args as [string];
const say = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
const p = new Platform(base, { log: { console: false }, signals: "none" });
p.createFeed({
  feed_name: "ticks",
  mode: "UF",
  fields: [{ name: "v", type: "float64" }, { name: "ts", type: "uint64" }],
  ts_col: "ts",
  chunk_size_mb: 4,
  persist: false,
});
try {
  using w = p.createWriter("ticks");
  for (let i = 0; i < 300_000; i++) w.writeValues(i, i);
  say("wrote");
} catch (e) {
  say(e instanceof DeepwaterError ? `${e.code}: ${e.message}` : `other: ${e}`);
}
