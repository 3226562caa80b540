/**
 * Shared test helpers: temporary data directories, the seed's trade spec,
 * and child processes running scripts from tests/children/.
 *
 * @module
 */
import { Platform } from "../mod.ts";
import type { FeedSpec } from "../mod.ts";

/** The seed README's trade feed, with a configurable chunk size. */
export function tradeSpec(
  name = "trades",
  chunkMb = 0.0625,
  extra: Partial<FeedSpec> = {},
): FeedSpec {
  return {
    feed_name: name,
    mode: "UF",
    fields: [
      { name: "price", type: "float64", desc: "Trade price" },
      { name: "size", type: "float64", desc: "Trade size" },
      { name: "timestamp_us", type: "uint64", desc: "Event time (µs)" },
    ],
    ts_col: "timestamp_us",
    chunk_size_mb: chunkMb,
    retention_hours: 72,
    persist: true,
    ...extra,
  };
}

/** Remove the shared-memory rings of every ring feed (tests must not leak /dev/shm objects). */
export function removeRings(platform: Platform): void {
  for (const name of platform.listFeeds()) {
    if (!platform.getFeedInfo(name).spec.persist) platform.removeRing(name);
  }
}

/** A temporary directory removed when disposed. */
export function tempDir(): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "deepwater-test-" });
  return {
    path,
    [Symbol.dispose]() {
      try {
        Deno.removeSync(path, { recursive: true });
      } catch {
        // already gone
      }
    },
  };
}

/** A Platform on a fresh temp dir that logs to file only. */
export function tempPlatform(): { platform: Platform; dir: string } & Disposable {
  const d = tempDir();
  const platform = new Platform(d.path, { log: { console: false } });
  return {
    platform,
    dir: d.path,
    [Symbol.dispose]() {
      if (platform.isOpen) removeRings(platform);
      platform.close();
      d[Symbol.dispose]();
    },
  };
}

const root = new URL("../", import.meta.url);

/**
 * Flags every child process of the tests runs with: this project's config and
 * export.lock, the lock of everything (a child may load export.ts, whose npm
 * packages deno.lock, the core's lock, must not pin).
 */
const CONFIG = [
  "--config",
  new URL("deno.json", root).pathname,
  "--lock",
  new URL("export.lock", root).pathname,
];

/** Command running `tests/children/<script>` with Deno and this project's config. */
export function child(
  script: string,
  args: string[],
  opts: { stdout?: "piped" | "null" } = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...CONFIG,
      new URL(`tests/children/${script}`, root).pathname,
      ...args,
    ],
    stdout: opts.stdout ?? "piped",
    stderr: "piped",
    stdin: "null",
  });
}

/** Run a child to completion; returns exit code, stdout and stderr as text. */
export async function runChild(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await child(script, args).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Read lines from a child's stdout as they arrive. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}

/** Deterministic PRNG (mulberry32) so oracle tests are reproducible: the torture harness's own. */
export { prng as rng } from "../scripts/torture/records.ts";

/**
 * `deno run -A` of a script of this project (a path from the project root,
 * e.g. `cli/deepwater.ts`) with the project's config, stdout and stderr piped.
 */
export function projectCommand(
  path: string,
  args: string[],
  env: Record<string, string> = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...CONFIG,
      new URL(path, root).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1", ...env },
  });
}

/**
 * Run one of the CLIs in cli/ as a child process. A CLI still running after
 * `timeoutMs` is killed and reported as exit code 124 (a hang).
 */
export async function runCli(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = projectCommand(`cli/${script}`, args, env).spawn();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  const out = await proc.output();
  clearTimeout(timer);
  return {
    code: hung ? 124 : out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Write trade records price = i, size = 2i + 1, ts = tsOf(i) for i in [from, to). */
export function writeTrades(
  platform: Platform,
  feed: string,
  from: number,
  to: number,
  tsOf: (i: number) => number = (i) => i,
): void {
  using w = platform.createWriter(feed);
  for (let i = from; i < to; i++) w.writeValues(i, 2 * i + 1, tsOf(i));
}
