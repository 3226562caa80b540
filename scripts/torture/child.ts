/**
 * Child processes of the torture harness: run one with a deadline, follow
 * its stdout line by line, SIGKILL it at a chosen instant, and tell a clean
 * exit from a crash (a signal the harness did not send, an uncaught stack,
 * a Deno panic).
 *
 * @module
 */

const root = new URL("../../", import.meta.url);

/** Absolute path of a file in this checkout. */
export function repoPath(rel: string): string {
  return new URL(rel, root).pathname;
}

/** How a child ended. */
export interface Run {
  /** What it was, for messages (`repair --dry-run`, `writer`, …). */
  what: string;
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, if any. */
  signal: string | null;
  /** Whole stdout. */
  stdout: string;
  /** Whole stderr. */
  stderr: string;
  /** The harness killed it at its deadline (a hang). */
  timedOut: boolean;
  /** The harness killed it on purpose (a random instant). */
  killed: boolean;
  /** Wall time, ms. */
  ms: number;
}

/** Options for {@linkcode run}. */
export interface RunOptions {
  /** Deadline; the child is SIGKILLed and reported as hung after it. */
  timeoutMs: number;
  /** SIGKILL this many ms after the child prints `ready` (or after start without `ready`). */
  killAfterMs?: number;
  /** Start the kill clock at spawn rather than at `ready`. */
  killFromStart?: boolean;
  /** Called with each stdout line as it arrives. */
  onLine?: (line: string) => void;
  /** SIGKILL as soon as this returns true for a stdout line (after `onLine` saw it). */
  killWhen?: (line: string) => boolean;
}

/**
 * Run `deno run -A <script> ...args` with this checkout's config.
 *
 * @param what name for messages
 * @param script path relative to the repository root
 * @param args arguments
 * @param opts deadline, kill instant, line callback
 * @returns how it ended
 */
export async function run(
  what: string,
  script: string,
  args: string[],
  opts: RunOptions,
): Promise<Run> {
  const t0 = performance.now();
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", repoPath("deno.json"), repoPath(script), ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false, timedOut = false;
  const kill = () => {
    try {
      proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  const deadline = setTimeout(() => {
    timedOut = true;
    kill();
  }, opts.timeoutMs);
  let killer: ReturnType<typeof setTimeout> | undefined;
  const armKill = () => {
    if (opts.killAfterMs === undefined || killer !== undefined) return;
    killer = setTimeout(() => {
      killed = true;
      kill();
    }, opts.killAfterMs);
  };
  if (opts.killFromStart) armKill();
  const out = (async () => {
    let text = "", buf = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === "ready") armKill();
        opts.onLine?.(line);
        if (!killed && opts.killWhen?.(line)) {
          killed = true;
          kill();
        }
      }
    }
    if (buf) opts.onLine?.(buf);
    return text;
  })();
  const err = new Response(proc.stderr).text();
  const status = await proc.status;
  clearTimeout(deadline);
  if (killer !== undefined) clearTimeout(killer);
  const [stdout, stderr] = await Promise.all([out, err]);
  return {
    what,
    code: status.signal ? null : status.code,
    signal: status.signal,
    stdout,
    stderr,
    timedOut,
    killed: killed && !timedOut,
    ms: performance.now() - t0,
  };
}

/**
 * Whether a child crashed: died of a signal the harness did not send, or
 * printed an uncaught error or a panic, or (for the harness's own children)
 * reported an error that is not a `DeepwaterError`. Returns the reason.
 */
export function crashOf(r: Run): string | undefined {
  if (r.timedOut) return undefined;
  if (r.signal && !r.killed) return `${r.what} died of ${r.signal}${tail(r.stderr)}`;
  if (/panicked|Uncaught|RUST_BACKTRACE|Segmentation fault|Bus error/.test(r.stderr)) {
    return `${r.what} exited ${r.code ?? r.signal} with an uncaught error${tail(r.stderr)}`;
  }
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith("error ")) continue;
    try {
      const e = JSON.parse(line.slice(6));
      if (e.name !== "DeepwaterError") {
        return `${r.what} threw ${e.name}: ${e.message}${
          e.stack ? ` | ${firstFrames(e.stack)}` : ""
        }`;
      }
    } catch {
      // a partial line from a killed child
    }
  }
  return undefined;
}

/** A DeepwaterError a child reported on an `error <json>` line, if any. */
export function reportedError(r: Run): { code?: string; message: string } | undefined {
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith("error ")) continue;
    try {
      return JSON.parse(line.slice(6));
    } catch {
      // partial line
    }
  }
  return undefined;
}

function tail(stderr: string): string {
  const lines = stderr.trim().split("\n").filter((l) => l.trim());
  if (!lines.length) return "";
  const i = lines.findIndex((l) => /Uncaught|panicked|error/.test(l));
  return `: ${lines.slice(i >= 0 ? i : 0, (i >= 0 ? i : 0) + 3).join(" | ").slice(0, 400)}`;
}

/** The first frames of a stack, on one line. */
export function firstFrames(stack: string): string {
  return stack.split("\n").slice(0, 4).map((l) => l.trim()).join(" | ").slice(0, 400);
}
