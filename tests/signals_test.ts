/**
 * SIGTERM against a busy writer with the default signal handling: a real
 * child process writes from timer callbacks or WebSocket messages until it
 * is signalled; it must exit 143 without a stack trace, and every record it
 * acknowledged (a write that returned) must be readable afterwards.
 *
 * @module
 */
import { Platform } from "../mod.ts";
import { assert, assertEquals } from "./assert.ts";
import { child, rng, tempDir } from "./helpers.ts";

const TRIALS = 20;
const PARALLEL = 4;

/** Flood every WebSocket client with messages until it goes away (bounded). */
function floodServer(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    let sent = 0;
    let timer: ReturnType<typeof setInterval> | undefined;
    socket.onopen = () => {
      timer = setInterval(() => {
        if (socket.readyState !== WebSocket.OPEN || sent > 200_000) {
          clearInterval(timer);
          return;
        }
        for (let k = 0; k < 50; k++) socket.send(String(sent++));
      }, 0);
    };
    socket.onclose = () => clearInterval(timer);
    socket.onerror = () => {};
    return response;
  });
}

/** One trial: start the child, SIGTERM it once it is writing, then check exit and data. */
async function trial(driver: "timer" | "ws", delayMs: number, url: string): Promise<void> {
  using d = tempDir();
  const proc = child("sigterm_writer.ts", [d.path, driver, url]).spawn();
  let out = "";
  let started!: () => void;
  const writing = new Promise<void>((r) => (started = r));
  const stdout = (async () => {
    for await (const text of proc.stdout.pipeThrough(new TextDecoderStream())) {
      out += text;
      if (out.includes("\n")) started();
    }
    started(); // a child that ended without writing fails below, not by hanging
  })();
  const stderr = new Response(proc.stderr).text();
  await writing;
  await new Promise((r) => setTimeout(r, delayMs));
  proc.kill("SIGTERM");
  const status = await proc.status;
  await stdout;
  const err = await stderr;
  const what = `${driver} trial, SIGTERM after ${delayMs} ms`;
  assertEquals(status.code, 143, `${what}: exit code; stderr: ${err}`);
  assertEquals(err, "", `${what}: stderr`);
  const acked = out.trim().split("\n").map(Number);
  const last = acked[acked.length - 1]!;
  assert(Number.isInteger(last) && last >= 0, `${what}: acknowledgements ${out.slice(-80)}`);
  using p = new Platform(d.path, { log: { console: false }, signals: "none" });
  using r = p.createReader("acks");
  let i = 0;
  for (const rec of r.read()) {
    if (rec.seq !== i) assertEquals(rec.seq, i, `${what}: record ${i}`);
    i++;
  }
  assert(i > last, `${what}: ${i} records readable, ${last + 1} acknowledged`);
}

for (const driver of ["timer", "ws"] as const) {
  Deno.test(`SIGTERM on a busy ${driver}-driven writer exits 143, silently, with every acknowledged record readable (${TRIALS} trials)`, async () => {
    await using server = floodServer();
    const url = `ws://127.0.0.1:${server.addr.port}/`;
    const random = rng(driver === "timer" ? 11 : 12);
    const delays = Array.from({ length: TRIALS }, () => Math.floor(random() * 40));
    for (let i = 0; i < TRIALS; i += PARALLEL) {
      await Promise.all(delays.slice(i, i + PARALLEL).map((ms) => trial(driver, ms, url)));
    }
  });
}
