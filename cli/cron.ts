// deno-lint-ignore-file no-console -- command-line tools print by design
/**
 * Retention cleanup on a schedule from a long-running Deno process
 * (`Deno.cron`), for users who prefer it to crontab: the same cleanup as
 * `deepwater-cleanup`, on the same schedule as `--install-cron --interval`.
 *
 *   deno run -A --unstable-cron cli/cron.ts --base-path ./data --interval 15
 *   deno run -A cli/cron.ts --base-path ./data --once     (one run, no scheduler)
 *
 * @module
 */
import { resolve } from "node:path";
import { cleanup } from "../lib/ops/cleanup.ts";
import { cronSchedule } from "../lib/ops/cron.ts";
import { Log } from "../lib/base/log.ts";
import { basePathOf, EXIT_OK, numberFlag, parseFlags, requireDir, run } from "./_common.ts";

const USAGE = `usage: cron.ts [--base-path DIR] [--interval MINUTES] [--once]`;

function runOnce(base: string): void {
  const log = new Log(`${base}/deepwater.log`, { console: true });
  try {
    const r = cleanup(base, { log });
    const deleted = r.feeds.reduce((n, f) => n + f.deleted.length, 0);
    log.info(`scheduled cleanup: deleted ${deleted} chunk(s), freed ${r.bytesFreed} bytes`);
    console.log(
      `cleanup: deleted ${deleted} chunk(s), freed ${(r.bytesFreed / 2 ** 20).toFixed(1)} MiB`,
    );
  } finally {
    log.close();
  }
}

/** Entry point; with --once returns after one cleanup, else schedules forever. */
export function main(args: string[]): number {
  const { values } = parseFlags(args, {
    "base-path": { type: "string" },
    interval: { type: "string" },
    once: { type: "boolean" },
  }, USAGE);
  const base = resolve(basePathOf(values["base-path"]));
  requireDir(base);
  const schedule = cronSchedule(numberFlag("interval", values.interval ?? "15", USAGE)!);
  if (values.once) {
    runOnce(base);
    return EXIT_OK;
  }
  Deno.cron(`deepwater-cleanup ${base}`, schedule, () => runOnce(base));
  console.log(`deepwater cleanup scheduled with Deno.cron: "${schedule}" for ${base}`);
  return -1; // keep running
}

if (import.meta.main) {
  const code = main(Deno.args);
  if (code !== -1) await run(() => code);
}
