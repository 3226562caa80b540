/**
 * Recovering a feed's catalog entry from its own directory, for a catalog
 * that lost it (deleted, damaged, or restored from an older backup).
 *
 * @module
 */
import { readSmallFile } from "../native/atomic_file.ts";
import { type CatalogEntry, validateEntry } from "../directory/catalog.ts";
import { layoutCrc } from "../directory/feed.ts";
import type { BasePaths } from "../directory/paths.ts";
import { Registry } from "../chunks/registry.ts";

/**
 * A feed's catalog entry from the best evidence in its directory: a
 * `spec.json` copy, else the copy stored in its registry's header. Each is
 * accepted only when its spec still normalises to the layout it records and
 * (when the registry header is readable) matches the registry's layout CRC.
 *
 * @param paths data directory paths
 * @param feed feed directory name
 * @returns the entry, or undefined when nothing usable describes the feed
 */
export function recoverEntry(paths: BasePaths, feed: string): CatalogEntry | undefined {
  const regLayout = registryLayoutCrc(paths, feed);
  const candidates: (() => string | undefined)[] = [
    () => readSmallFile(paths.specCopy(feed)),
    () => storedSpecOf(paths.registry(feed)),
  ];
  for (const read of candidates) {
    try {
      const text = read();
      if (text === undefined) continue;
      const entry = checkedEntry(JSON.parse(text), feed, regLayout);
      if (entry) return entry;
    } catch {
      // unreadable or unparsable: try the next source
    }
  }
  return undefined;
}

/** The entry if it is self-consistent (its spec gives its descriptor), else undefined. */
function checkedEntry(
  raw: unknown,
  feed: string,
  regLayout: number | undefined,
): CatalogEntry | undefined {
  const entry = validateEntry(raw);
  if (entry.spec.feed_name !== feed) return undefined;
  if (entry.spec.persist && regLayout !== undefined && layoutCrc(entry.descriptor) !== regLayout) {
    return undefined;
  }
  return entry;
}

function registryLayoutCrc(paths: BasePaths, feed: string): number | undefined {
  try {
    const reg = Registry.open(paths.registry(feed), false);
    try {
      return reg.layoutCrc;
    } finally {
      reg.close();
    }
  } catch {
    return undefined;
  }
}

function storedSpecOf(path: string): string | undefined {
  return Registry.readStoredSpec(path);
}
