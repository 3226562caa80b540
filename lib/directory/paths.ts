/**
 * Where everything lives under a base path.
 *
 * ```
 * <base>/manifest.json         package + format version
 * <base>/catalog.dwc           binary feed catalog (catalog.lock guards writers)
 * <base>/deepwater.log         rotating log (10 MB x 5)
 * <base>/quarantine/<feed>/    files repair could not place, each with a .why.txt note
 * <base>/feeds/<feed>/registry.dwr, spec.json, writer.lock, maintenance.lock,
 *                      markers.dwm, chunk-<id>.dwk,
 *                      consumer-<name>.dwq (a named consumer's position, feed/consumers.ts)
 * ```
 *
 * @module
 */
import { join, resolve } from "node:path";
import { checkBasePath } from "../base/input.ts";

/** Resolved paths of a data directory. */
export class BasePaths {
  /** Absolute base path. */
  readonly base: string;
  /** manifest.json. */
  readonly manifest: string;
  /** catalog.dwc. */
  readonly catalog: string;
  /** catalog.lock. */
  readonly catalogLock: string;
  /** deepwater.log. */
  readonly log: string;
  /** feeds/ directory. */
  readonly feeds: string;
  /** quarantine/ directory: what repair could not place, kept instead of deleted. */
  readonly quarantine: string;

  /**
   * @param base data directory (relative paths resolve against the cwd); too
   *   long for the files under it is `INVALID_ARGUMENT`
   */
  constructor(base: string) {
    this.base = checkBasePath(resolve(base));
    this.manifest = join(this.base, "manifest.json");
    this.catalog = join(this.base, "catalog.dwc");
    this.catalogLock = join(this.base, "catalog.lock");
    this.log = join(this.base, "deepwater.log");
    this.feeds = join(this.base, "feeds");
    this.quarantine = join(this.base, "quarantine");
  }

  /** Directory of one feed (the name is validated by the caller). */
  feedDir(feed: string): string {
    return join(this.feeds, feed);
  }

  /** Registry file of a feed. */
  registry(feed: string): string {
    return join(this.feeds, feed, "registry.dwr");
  }

  /** Copy of the feed's catalog entry, for rebuilding the catalog. */
  specCopy(feed: string): string {
    return join(this.feeds, feed, "spec.json");
  }

  /** Lock serialising cleanup and repair of a feed. */
  maintenanceLock(feed: string): string {
    return join(this.feeds, feed, "maintenance.lock");
  }

  /** Writer lock file of a feed. */
  writerLock(feed: string): string {
    return join(this.feeds, feed, "writer.lock");
  }

  /** Playback marker file of a feed. */
  markers(feed: string): string {
    return join(this.feeds, feed, "markers.dwm");
  }

  /** Position file (and lock) of a named consumer of a feed (the name is validated by the caller). */
  consumer(feed: string, name: string): string {
    return join(this.feeds, feed, `consumer-${name}.dwq`);
  }

  /** Chunk file of a feed. */
  chunk(feed: string, id: number): string {
    return join(this.feeds, feed, chunkFileName(id));
  }
}

/** Chunk file name for an id (zero-padded so names sort). */
function chunkFileName(id: number): string {
  return `chunk-${String(id).padStart(12, "0")}.dwk`;
}

/** Parse a chunk file name back to its id, or undefined. */
export function chunkIdOf(name: string): number | undefined {
  const m = /^chunk-(\d{12})\.dwk$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The consumer a file name in a feed directory belongs to, or undefined. */
export function consumerOfFile(name: string): string | undefined {
  const m = /^consumer-([A-Za-z0-9][A-Za-z0-9._-]{0,99})\.dwq$/.exec(name);
  return m && !m[1]!.includes("..") ? m[1] : undefined;
}
