// deno-lint-ignore-file no-console -- a child reports to its parent on stdout
// Child: a busy writer with the default signal handling (`signals: "exit"`),
// written the way an application would (no isOpen checks). "timer": a 0 ms
// interval writes 100 records per tick; "ws": every WebSocket message from
// the URL is one record. Record i carries seq = i, timestamp_us = i. After
// each callback's writes returned, prints the last seq written: the newest
// acknowledged record.
import { Platform } from "../../mod.ts";

const [base, driver, url] = Deno.args as [string, "timer" | "ws", string | undefined];
const platform = new Platform(base, { log: { console: false } });
platform.createFeed({
  feed_name: "acks",
  mode: "UF",
  fields: [{ name: "seq", type: "uint64" }, { name: "timestamp_us", type: "uint64" }],
  ts_col: "timestamp_us",
  chunk_size_mb: 0.0625,
});
const writer = platform.createWriter("acks");
let seq = 0;
if (driver === "timer") {
  setInterval(() => {
    for (let k = 0; k < 100; k++, seq++) writer.writeValues(seq, seq);
    console.log(seq - 1);
  }, 0);
} else {
  const ws = new WebSocket(url!);
  ws.onmessage = () => {
    writer.writeValues(seq, seq);
    console.log(seq++);
  };
}
