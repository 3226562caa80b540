// deno-lint-ignore-file no-console -- command-line tools print by design
/**
 * Shared plumbing for the command-line tools: the preamble (flag parsing,
 * `--help`, `--version`, usage errors with exit 2), refusing orphan and
 * contradictory flags, the base path default, a progress bar.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ABI_VERSION, DeepwaterError, FORMAT_VERSION, PACKAGE_VERSION } from "../mod.ts";

/** Exit code: healthy / success. */
export const EXIT_OK = 0;
/** Exit code: unhealthy / problems found. */
export const EXIT_UNHEALTHY = 1;
/** Exit code: error (bad flags, missing base path, I/O). */
export const EXIT_ERROR = 2;

/** The version line every tool prints for --version. */
export function versionLine(tool: string): string {
  return `${tool} ${PACKAGE_VERSION} (format ${FORMAT_VERSION}, abi ${ABI_VERSION})`;
}

/** Thrown to end a tool with an exit code (so `main` stays testable). */
export class Exit extends Error {
  /** @param code exit code */
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Parsed flags: values by flag name, and the positional arguments. */
export interface Parsed {
  /** Flag values (`undefined` when not given). */
  values: Record<string, string | boolean | string[] | undefined>;
  /** Arguments that are not flags. */
  positionals: string[];
}

/** A command: the name it answers `--version` with, its usage text and its flags. */
export interface Command {
  /** Name as typed (`deepwater-health`, or `deepwater health` through the umbrella). */
  name: string;
  /** Usage text: printed on stdout for `--help`, on stderr after a usage error. */
  usage: string;
  /** Flags besides `--help` and `--version`, as `node:util` parseArgs takes them. */
  options: NonNullable<ParseArgsConfig["options"]>;
}

/**
 * The preamble every tool shares: parse flags strictly, answer `--help`
 * (usage on stdout) and `--version` with exit 0 before anything runs, and
 * end a bad flag with the usage on stderr and exit 2.
 *
 * @param args argv after the command
 * @param command name, usage and flags
 * @returns parsed values and positionals (only when the command should run)
 */
export function parseCommand(args: string[], command: Command): Parsed {
  let parsed: Parsed;
  try {
    const r = parseArgs({
      args,
      options: { ...command.options, help: { type: "boolean" }, version: { type: "boolean" } },
      strict: true,
      allowPositionals: true,
    });
    parsed = { values: r.values as Parsed["values"], positionals: r.positionals };
  } catch (e) {
    usageError(e instanceof Error ? e.message : String(e), command.usage);
  }
  if (parsed.values.help) {
    console.log(command.usage);
    throw new Exit(EXIT_OK);
  }
  if (parsed.values.version) {
    console.log(versionLine(command.name));
    throw new Exit(EXIT_OK);
  }
  return parsed;
}

/**
 * End with a usage error: the message and the usage on stderr, exit 2.
 *
 * @param message what is wrong with the command line
 * @param usage the command's usage text
 * @returns never
 */
export function usageError(message: string, usage: string): never {
  console.error(`${message}\n\n${usage}`);
  throw new Exit(EXIT_ERROR);
}

/**
 * Refuse a flag given without the one it only applies with (exit 2).
 *
 * @param values parsed flags
 * @param flag the dependent flag
 * @param needs the flag it needs
 * @param usage the command's usage text
 */
export function requireWith(
  values: Parsed["values"],
  flag: string,
  needs: string,
  usage: string,
): void {
  if (values[flag] !== undefined && values[needs] === undefined) {
    usageError(`--${flag} only applies with --${needs}`, usage);
  }
}

/**
 * Refuse flags that contradict each other (exit 2).
 *
 * @param values parsed flags
 * @param flags flags of which at most one may be given
 * @param usage the command's usage text
 */
export function refuseTogether(values: Parsed["values"], flags: string[], usage: string): void {
  const given = flags.filter((f) => values[f] !== undefined);
  if (given.length > 1) {
    usageError(`${given.map((f) => `--${f}`).join(" and ")} cannot be given together`, usage);
  }
}

/** `--base-path`, else `$DEEPWATER_BASE_PATH`, else `./data`. */
export function basePathOf(v: unknown): string {
  if (typeof v === "string" && v.length) return v;
  return Deno.env.get("DEEPWATER_BASE_PATH") ?? "./data";
}

/** Parse a non-negative number flag or exit 2. */
export function numberFlag(name: string, v: unknown, usage: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || n < 0) {
    usageError(`--${name} must be a non-negative number, got ${JSON.stringify(v)}`, usage);
  }
  return n;
}

/** Require an existing directory or exit 2. */
export function requireDir(path: string): void {
  try {
    if (Deno.statSync(path).isDirectory) return;
  } catch {
    // reported below
  }
  console.error(`Base path "${path}" does not exist or is not a directory`);
  throw new Exit(EXIT_ERROR);
}

/**
 * Route SIGINT and SIGTERM to `onSignal` with the exit code each means (130,
 * 143) until disposed: for commands that own their signals and stop cleanly.
 *
 * @param onSignal called on each signal with its exit code
 * @returns removes the listeners when disposed
 */
export function onStopSignals(onSignal: (code: number) => void): Disposable {
  const removers = ([["SIGINT", 130], ["SIGTERM", 143]] as const).map(([sig, code]) => {
    const fn = () => onSignal(code);
    Deno.addSignalListener(sig, fn);
    return () => Deno.removeSignalListener(sig, fn);
  });
  return { [Symbol.dispose]: () => removers.forEach((remove) => remove()) };
}

/** A progress bar on stderr when it is a terminal (nothing otherwise). */
export function progressBar(label: string): (done: number, total: number, what: string) => void {
  if (!Deno.stderr.isTerminal()) return () => {};
  let lastDraw = 0;
  return (done, total, what) => {
    const now = performance.now();
    if (done !== total && now - lastDraw < 50) return;
    lastDraw = now;
    const width = 30;
    const filled = total ? Math.round((done / total) * width) : width;
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `\r${label} ${what} [${bar}] ${done}/${total}${done === total ? "\n" : ""}`,
      ),
    );
  };
}

/**
 * Run a tool's main: map DeepwaterError to exit 2 with its message, Exit to
 * its code, and exit with the code main returns (`undefined`: main started
 * something that keeps the process running, such as a `Deno.cron` schedule).
 *
 * @param main the tool's entry point, returning an exit code
 */
export async function run(
  main: (args: string[]) => Promise<number | undefined> | number | undefined,
): Promise<void> {
  let code: number | undefined;
  try {
    code = await main(Deno.args);
  } catch (e) {
    if (e instanceof Exit) code = e.code;
    else if (e instanceof DeepwaterError) {
      console.error(`error [${e.code}]: ${e.message}`);
      code = EXIT_ERROR;
    } else throw e;
  }
  if (code !== undefined) Deno.exit(code);
}
