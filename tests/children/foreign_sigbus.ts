// Child: with libdeepwater's SIGBUS handler installed (by mapping a file), touch a
// truncated mapping libdeepwater did NOT make (mmap through libc). The fault is not
// ours, so it must reach the previous handler and kill this process with SIGBUS.
import { Mapping } from "../../lib/native/mapping.ts";

const [dir] = Deno.args as [string];
Deno.writeFileSync(`${dir}/ours`, new Uint8Array(8192));
using _ours = Mapping.file(`${dir}/ours`); // installs the handler
const libc = Deno.dlopen("libc.so.6", {
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
});
const path = `${dir}/foreign`;
Deno.writeFileSync(path, new Uint8Array(8192));
const fd = libc.symbols.open(new TextEncoder().encode(path + "\0"), 0 /* O_RDONLY */);
const p = libc.symbols.mmap(null, 8192n, 1, /* PROT_READ */ 1, /* MAP_SHARED */ fd, 0n);
Deno.truncateSync(path, 0);
new Deno.UnsafePointerView(p!).getUint8(4096);
Deno.exit(0); // not reached
