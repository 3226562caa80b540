import { assert, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import { child, lines, tempDir, tradeSpec } from "./helpers.ts";

/** Truncate `path` from a separate Deno process (not the one holding the mapping). */
async function truncateFromAnotherProcess(path: string, size: number): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `Deno.truncateSync(${JSON.stringify(path)}, ${size})`],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
}

/** Wait until the child prints a line matching `re`; returns the line. */
async function until(it: AsyncGenerator<string>, re: RegExp): Promise<string> {
  for (;;) {
    const { value, done } = await it.next();
    if (done) throw new Error(`child ended before printing ${re}`);
    if (re.test(value)) return value;
  }
}

/** The child's remaining output and how it ended: it must exit 3 after printing CORRUPT. */
async function expectCorrupt(
  proc: Deno.ChildProcess,
  it: AsyncGenerator<string>,
  path: string,
): Promise<void> {
  // A child that hangs instead of failing is killed: the test then fails on its signal.
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  let last = "";
  for await (const line of it) last = line;
  const status = await proc.status;
  clearTimeout(timer);
  const stderr = await new Response(proc.stderr).text();
  assertEquals(status.signal, null, `child died of ${status.signal}: ${stderr}`);
  assertEquals(status.code, 3, `exit ${status.code}, last line "${last}": ${stderr}`);
  assert(last.startsWith("CORRUPT: "), last);
  assert(last.includes("truncated by another process"), last);
  assert(last.includes(path), `"${last}" does not name "${path}"`);
}

const chunkPath = (dir: string, id: number) =>
  `${dir}/feeds/trades/chunk-${String(id).padStart(12, "0")}.dwk`;

Deno.test("A process reading a chunk that another process truncates gets CORRUPT, not SIGBUS", async () => {
  using d = tempDir();
  {
    using p = new Platform(d.path, { log: { console: false } });
    p.createFeed(tradeSpec("trades", 8));
    using w = p.createWriter("trades");
    for (let i = 0; i < 200_000; i++) w.writeValues(i, 2 * i + 1, i);
  }
  const reader = child("truncated.ts", ["read", d.path, "trades"]).spawn();
  const it = lines(reader.stdout);
  assertEquals(await until(it, /^pass/), "pass 200000");
  await truncateFromAnotherProcess(chunkPath(d.path, 1), 100);
  await expectCorrupt(reader, it, chunkPath(d.path, 1));
});

for (const role of ["columns", "batches", "cursor", "visit"]) {
  Deno.test(`A process reading a chunk in place (${role}) that another process truncates gets CORRUPT, not SIGBUS`, async () => {
    using d = tempDir();
    {
      using p = new Platform(d.path, { log: { console: false } });
      p.createFeed(tradeSpec("trades", 8));
      using w = p.createWriter("trades");
      for (let i = 0; i < 200_000; i++) w.writeValues(i, 2 * i + 1, i);
    }
    const reader = child("truncated.ts", [role, d.path, "trades"]).spawn();
    const it = lines(reader.stdout);
    assertEquals(await until(it, /^pass/), "pass 200000");
    await truncateFromAnotherProcess(chunkPath(d.path, 1), 100);
    await expectCorrupt(reader, it, chunkPath(d.path, 1));
  });
}

Deno.test("A process writing a chunk that another process truncates gets CORRUPT, not SIGBUS", async () => {
  using d = tempDir();
  {
    using p = new Platform(d.path, { log: { console: false } });
    p.createFeed(tradeSpec("trades", 8));
  }
  const writer = child("truncated.ts", ["write", d.path, "trades"]).spawn();
  const it = lines(writer.stdout);
  const chunk = Number((await until(it, /^wrote 2000 /)).split(" ")[3]);
  await truncateFromAnotherProcess(chunkPath(d.path, chunk), 100);
  await expectCorrupt(writer, it, chunkPath(d.path, chunk));
});

Deno.test("A process streaming a chunk that another process truncates gets CORRUPT, not SIGBUS", async () => {
  using d = tempDir();
  {
    using p = new Platform(d.path, { log: { console: false } });
    p.createFeed(tradeSpec("trades", 8));
  }
  const writer = child("truncated.ts", ["write", d.path, "trades"]).spawn();
  const wit = lines(writer.stdout);
  await until(wit, /^wrote 1000 /);
  const streamer = child("truncated.ts", ["stream", d.path, "trades"]).spawn();
  const sit = lines(streamer.stdout);
  await until(sit, /^got 2000$/);
  const chunk = Number((await until(wit, /^wrote/)).split(" ")[3]);
  await truncateFromAnotherProcess(chunkPath(d.path, chunk), 100);
  await expectCorrupt(streamer, sit, chunkPath(d.path, chunk));
  await expectCorrupt(writer, wit, chunkPath(d.path, chunk));
});

Deno.test("Processes writing and streaming a ring that another process truncates get CORRUPT, not SIGBUS", async () => {
  using d = tempDir();
  using p = new Platform(d.path, { log: { console: false } });
  p.createFeed(tradeSpec("ticks", 8, { persist: false }));
  const shm = p.getFeedInfo("ticks").ring!.shm;
  try {
    const writer = child("truncated.ts", ["write", d.path, "ticks"]).spawn();
    const wit = lines(writer.stdout);
    await until(wit, /^wrote 1000 /);
    const streamer = child("truncated.ts", ["stream", d.path, "ticks"]).spawn();
    const sit = lines(streamer.stdout);
    await until(sit, /^got 2000$/);
    await truncateFromAnotherProcess(`/dev/shm${shm}`, 100);
    await expectCorrupt(writer, wit, shm);
    await expectCorrupt(streamer, sit, shm);
  } finally {
    p.removeRing("ticks");
  }
});

Deno.test("A SIGBUS outside libdeepwater's mappings still reaches the previous handler and kills the process", async () => {
  using d = tempDir();
  const out = await child("foreign_sigbus.ts", [d.path]).output();
  assertEquals(out.signal, "SIGBUS", new TextDecoder().decode(out.stderr));
});
