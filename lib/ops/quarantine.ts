/**
 * `<base>/quarantine/`: where repair puts what it cannot place instead of
 * deleting it. Each file keeps its name plus the time it was moved, beside a
 * `.why.txt` note saying where it came from and why.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { readSmallFile, writeFileAtomic } from "../native/atomic_file.ts";
import type { BasePaths } from "../directory/paths.ts";

/** A file held in quarantine. */
export interface QuarantinedFile {
  /** Path inside `<base>/quarantine/`. */
  path: string;
  /** Bytes. */
  bytes: number;
  /** Why it was moved, from its note (empty when the note is missing). */
  why: string;
}

/**
 * Move a file into `<base>/quarantine/<feed>/` with a note of why.
 *
 * @param paths data directory paths
 * @param feed feed the file belonged to
 * @param path the file to move (same filesystem: a rename)
 * @param why reason, kept in `<name>.why.txt`
 * @returns the new path, or undefined when the file was already gone
 */
export function quarantine(
  paths: BasePaths,
  feed: string,
  path: string,
  why: string,
): string | undefined {
  const dir = `${paths.quarantine}/${feed}`;
  Deno.mkdirSync(dir, { recursive: true });
  for (const d of [paths.quarantine, dir]) {
    if (!Deno.lstatSync(d).isDirectory) {
      throw new DeepwaterError(
        "CORRUPT",
        `"${d}" is not a directory (a symbolic link?): Deepwater does not follow links inside its data directory; remove it`,
        { path: d },
      );
    }
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const to = `${dir}/${path.slice(path.lastIndexOf("/") + 1)}.${stamp}`;
  try {
    Deno.renameSync(path, to);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  // Through a temporary file like every metadata write: never through a link
  // planted at the note's name. Not synced: neither is the rename above.
  writeFileAtomic(
    `${to}.why.txt`,
    new TextEncoder().encode(`from: ${path}\nwhen: ${stamp}\nwhy: ${why}\n`),
    { sync: false },
  );
  return to;
}

/**
 * What `<base>/quarantine/` holds (health reports it).
 *
 * @param paths data directory paths
 * @returns the quarantined files, notes excluded
 */
export function listQuarantine(paths: BasePaths): QuarantinedFile[] {
  const out: QuarantinedFile[] = [];
  const walk = (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.isFile && !e.name.endsWith(".why.txt")) {
        let why = "";
        try {
          why = readSmallFile(`${p}.why.txt`).match(/^why: (.*)$/m)?.[1] ?? "";
        } catch {
          // no note
        }
        out.push({ path: p, bytes: Deno.lstatSync(p).size, why });
      }
    }
  };
  walk(paths.quarantine);
  return out;
}
