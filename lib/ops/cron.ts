/**
 * Scheduling cleanup: crontab install/uninstall, and the schedule shared
 * with the `Deno.cron` entry point (`cli/cron.ts`).
 *
 * Each installed line ends with a marker naming the base path,
 * `# deepwater-cleanup <base>`, so install is idempotent (it replaces its own
 * line for that base path) and uninstall removes only Deepwater's lines. The
 * crontab program is `$DEEPWATER_CRONTAB` if set, else `crontab` on PATH.
 *
 * The line is built here, from the command's words, never from a string a
 * caller assembled: a crontab line ends at a newline (so a path holding one
 * would add a job of the attacker's choosing) and cron turns every `%` into
 * a newline unless it is written `\%`. Words holding a newline, carriage
 * return or NUL are refused; every word is single-quoted for `sh`, with each
 * `%` left outside the quotes as `\%` (cron's only escape, which it removes),
 * so no backslash inside the quotes can ever meet a `%`.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";

/** Marker that identifies Deepwater's crontab lines. */
const CRON_MARKER = "# deepwater-cleanup";

/**
 * The cron schedule for "every `minutes` minutes".
 *
 * @param minutes 1..59, or a whole number of hours (60, 120, ... 1440)
 * @returns a five-field cron expression
 */
export function cronSchedule(minutes: number): string {
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `--interval must be 1..1440 minutes, got ${minutes}`,
    );
  }
  if (minutes < 60) return `*/${minutes} * * * *`;
  if (minutes % 60 !== 0) {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `--interval above 59 must be whole hours (60, 120, ...), got ${minutes}`,
    );
  }
  const h = minutes / 60;
  return h === 24 ? "0 0 * * *" : `0 */${h} * * *`;
}

/**
 * Refuse a word that cannot be written into a crontab line.
 *
 * @param what what the word is, for the message
 * @param word the word
 */
function checkWord(what: string, word: string): void {
  const bad = /[\n\r\0]/.exec(word);
  if (bad) {
    const name = bad[0] === "\n" ? "a newline" : bad[0] === "\r" ? "a carriage return" : "a NUL";
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `Cannot write a crontab line: ${what} ${
        JSON.stringify(word)
      } contains ${name}: use a path without one`,
      { path: word },
    );
  }
}

/** `word` as one `sh` word inside a crontab line (see the module documentation). */
function cronQuote(word: string): string {
  return word.split("%").map((part) => `'${part.replaceAll("'", `'\\''`)}'`).join("\\%");
}

/**
 * The marker ending the line for `basePath`. A plain path stays bare, as
 * earlier releases wrote it, so their lines are still found and replaced.
 */
function markerOf(basePath: string): string {
  checkWord("base path", basePath);
  const bare = /^[\w@+=:,.\/-]+$/.test(basePath);
  return `${CRON_MARKER} ${bare ? basePath : cronQuote(basePath)}`;
}

/**
 * The crontab line running `argv` every `minutes` minutes for `basePath`.
 *
 * @param basePath absolute data directory (named in the line's marker)
 * @param minutes interval (see {@linkcode cronSchedule})
 * @param argv the program and its arguments, unquoted (absolute paths)
 * @returns the line, without its newline
 */
export function cronLine(basePath: string, minutes: number, argv: string[]): string {
  const marker = markerOf(basePath);
  for (const word of argv) checkWord("command word", word);
  return `${cronSchedule(minutes)} ${argv.map(cronQuote).join(" ")} ${marker}`;
}

function crontabProgram(): string {
  return Deno.env.get("DEEPWATER_CRONTAB") ?? "crontab";
}

async function readCrontab(): Promise<string[]> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(crontabProgram(), {
      args: ["-l"],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new DeepwaterError(
      "IO",
      `Cannot run "${crontabProgram()}": ${
        e instanceof Error ? e.message : e
      }: install cron (e.g. apt-get install cron), or schedule with \`deno task cleanup:cron\` (Deno.cron) instead`,
    );
  }
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    if (/no crontab/i.test(err)) return [];
    throw new DeepwaterError("IO", `crontab -l failed: ${err.trim()}`);
  }
  return text.split("\n").filter((l) => l.length > 0);
}

async function writeCrontab(lines: string[]): Promise<void> {
  const p = new Deno.Command(crontabProgram(), {
    args: ["-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(lines.map((l) => l + "\n").join("")));
  await w.close();
  const out = await p.output();
  if (!out.success) {
    throw new DeepwaterError(
      "IO",
      `crontab - failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/**
 * Install (or replace) the cleanup line for `basePath`.
 *
 * @param basePath absolute data directory
 * @param minutes interval
 * @param argv the program cron runs and its arguments, unquoted (absolute paths)
 * @returns the line installed
 */
export async function installCron(
  basePath: string,
  minutes: number,
  argv: string[],
): Promise<string> {
  const line = cronLine(basePath, minutes, argv);
  const marker = markerOf(basePath);
  const lines = (await readCrontab()).filter((l) => !l.endsWith(marker));
  await writeCrontab([...lines, line]);
  return line;
}

/**
 * Remove Deepwater's cleanup lines (for one base path, or all of them).
 *
 * @param basePath only the line for this data directory; all when omitted
 * @returns the lines removed
 */
export async function uninstallCron(basePath?: string): Promise<string[]> {
  const marker = basePath === undefined ? undefined : markerOf(basePath);
  const lines = await readCrontab();
  const mine = (l: string) => marker === undefined ? l.includes(CRON_MARKER) : l.endsWith(marker);
  const removed = lines.filter(mine);
  if (removed.length) await writeCrontab(lines.filter((l) => !mine(l)));
  return removed;
}
