// deno-lint-ignore-file no-console -- a program whose output is its job
// Child: install its own SIGTERM handler first, then open a writer through a
// Platform with the given signals mode, write continuously and wait for SIGTERM.
import { Platform } from "../../mod.ts";

const [base, mode] = Deno.args as [string, "exit" | "close"];
let writerOpen: () => boolean = () => true;
Deno.addSignalListener("SIGTERM", () => {
  console.log("app handler ran");
  if (mode === "close") {
    setTimeout(() => {
      console.log(`writer closed: ${!writerOpen()}`);
      Deno.exit(7);
    }, 20);
  }
});
const platform = new Platform(base, { log: { console: false }, signals: mode });
const w = platform.createWriter("trades");
writerOpen = () => w.isOpen;
const start = platform.createReader("trades").count();
let i = 0;
console.log("writing");
const timer = setInterval(() => {
  for (let k = 0; k < 100 && w.isOpen; k++, i++) {
    // price = the record's index in the feed, so the parent can check every
    // record of every run in one sequence, however many each run wrote.
    w.writeValues(start + i, 2 * (start + i) + 1, 1000 + start + i);
  }
}, 1);
setTimeout(() => clearInterval(timer), 30_000);
