/**
 * Health checks for a data directory (what `deepwater-health` runs). Reads
 * only: it never creates, repairs or logs to the data directory.
 *
 * @module
 */
import { Catalog, type CatalogEntry } from "../directory/catalog.ts";
import { diskSpace } from "../native/disk.ts";
import { DeepwaterError } from "../base/errors.ts";
import { feedContext } from "../directory/feed.ts";
import { Log } from "../base/log.ts";
import { readManifest } from "../directory/manifest.ts";
import { BasePaths } from "../directory/paths.ts";
import { type Finding, repair } from "./repair.ts";
import { listQuarantine } from "./quarantine.ts";
import { feedInfo } from "./feed_stats.ts";
import { FORMAT_VERSION } from "../base/version.ts";
import { formatDuration } from "../base/units.ts";

/** What to check. */
export interface HealthOptions {
  /** Check each feed's registry and recent write activity. */
  checkFeeds?: boolean;
  /** With `checkFeeds`: a feed whose newest record is older than this is unhealthy. */
  maxAgeSeconds?: number;
  /**
   * With `checkFeeds`: a feed whose newest record is further than this ahead
   * of now is unhealthy (a writer's clock or timestamp unit is wrong, and
   * retention and age checks would trust that record). Default 60.
   */
  maxFutureSeconds?: number;
  /** Minimum free space on the data directory's filesystem, in GiB (default 1). */
  minFreeGb?: number;
  /** "Now" in microseconds since the epoch (tests). */
  nowUs?: number;
}

/** One check's outcome. */
export interface HealthCheck {
  /** What was checked. */
  name: string;
  /** Whether it passed. */
  ok: boolean;
  /** Detail for humans. */
  detail: string;
}

/** Per-feed activity. */
export interface FeedHealth {
  /** Feed name. */
  name: string;
  /** Committed records retained. */
  records: number;
  /** Timestamp of the newest committed record, or null. */
  lastTs: number | null;
  /** Age of the newest record in seconds, or null. */
  ageSeconds: number | null;
  /** Whether this feed passed. */
  ok: boolean;
}

/** The whole report (`--json` prints it). */
export interface HealthReport {
  /** Every check passed. */
  healthy: boolean;
  /** Absolute base path. */
  basePath: string;
  /** All checks in order. */
  checks: HealthCheck[];
  /** Per-feed activity (with `checkFeeds`). */
  feeds: FeedHealth[];
  /** Free GiB on the data directory's filesystem. */
  freeGb: number;
}

/**
 * Check a data directory.
 *
 * @param basePath data directory
 * @param options what to check
 * @returns the report; throws `IO` when the base path does not exist
 */
export function checkHealth(basePath: string, options: HealthOptions = {}): HealthReport {
  const paths = new BasePaths(basePath);
  try {
    if (!Deno.statSync(paths.base).isDirectory) throw new Error("not a directory");
  } catch (e) {
    throw new DeepwaterError(
      "IO",
      `Base path "${paths.base}" is not a Deepwater data directory: ${e}`,
      {
        path: paths.base,
      },
    );
  }
  const checks: HealthCheck[] = [];
  const check = (name: string, fn: () => string): boolean => {
    try {
      checks.push({ name, ok: true, detail: fn() });
      return true;
    } catch (e) {
      checks.push({ name, ok: false, detail: e instanceof Error ? e.message : String(e) });
      return false;
    }
  };
  let ringId: string | undefined;
  check("manifest", () => {
    const m = readManifest(paths.manifest);
    if (!m) {
      throw new Error(
        `"${paths.manifest}" is missing: open the directory with Deepwater once, or restore it`,
      );
    }
    ringId = m.ring_id;
    return `format ${m.format_version} (this build reads ${FORMAT_VERSION}), written by ${m.package_version}`;
  });
  // Integrity is repair's dry run, so health is healthy exactly when repair
  // would find nothing to do (a writer that is running is inspected as is).
  let entries: readonly CatalogEntry[] = [];
  let findings: Finding[] = [];
  check("integrity", () => {
    const report = repair(paths.base, { feeds: "all", dryRun: true });
    findings = report.findings;
    entries = new Catalog(paths.catalog, paths.catalogLock).read();
    const catalogFindings = findings.filter((f) => f.feed === "");
    if (catalogFindings.length) throw new Error(describe(catalogFindings));
    return `${entries.length} feed(s), ${report.chunksChecked} chunk(s): catalog, registries and chunk files agree`;
  });
  const held = listQuarantine(paths);
  if (held.length) {
    check(
      "quarantine",
      () =>
        `${held.length} file(s) that repair could not place are kept in "${paths.quarantine}" (${
          held.map((q) => q.why).filter(Boolean).slice(0, 3).join("; ")
        }): inspect them, then remove them`,
    );
  }
  const minFree = options.minFreeGb ?? 1;
  let freeGb = 0;
  check("disk", () => {
    const { free, total } = diskSpace(paths.base);
    freeGb = free / 2 ** 30;
    if (freeGb < minFree) {
      throw new Error(
        `${freeGb.toFixed(2)} GiB free of ${
          (total / 2 ** 30).toFixed(1)
        } GiB, below ${minFree} GiB`,
      );
    }
    return `${freeGb.toFixed(2)} GiB free of ${(total / 2 ** 30).toFixed(1)} GiB`;
  });
  const feeds: FeedHealth[] = [];
  const feedLevel = findings.filter((x) => x.feed !== "" && x.kind !== "writer-active");
  if (!options.checkFeeds && feedLevel.length) {
    check("feeds", () => {
      throw new Error(describe(feedLevel));
    });
  }
  if (options.checkFeeds) {
    const log = new Log(paths.log, { file: false, console: false });
    const nowUs = options.nowUs ?? Date.now() * 1000;
    const maxFuture = options.maxFutureSeconds ?? 60;
    for (const entry of entries) {
      const ctx = feedContext(entry, paths, log, ringId);
      const f: FeedHealth = {
        name: ctx.name,
        records: 0,
        lastTs: null,
        ageSeconds: null,
        ok: true,
      };
      const mine = findings.filter((x) => x.feed === ctx.name && x.kind !== "writer-active");
      f.ok = check(`feed ${ctx.name}: integrity`, () => {
        if (mine.length) throw new Error(describe(mine));
        return ctx.spec.persist ? "registry and chunk files agree" : "shared-memory ring";
      });
      if (f.ok) {
        f.ok = check(`feed ${ctx.name}: activity`, () => {
          const info = feedInfo(ctx, entry.created);
          f.records = info.recordCount;
          if (info.lastTs === null) {
            if (options.maxAgeSeconds !== undefined) throw new Error("no records yet");
            return "no records yet";
          }
          f.lastTs = info.lastTs;
          const aheadSeconds = (f.lastTs - nowUs) / 1e6;
          if (aheadSeconds > maxFuture) {
            throw new Error(
              `newest record is ${
                formatDuration(aheadSeconds)
              } in the future (tolerance ${maxFuture} s): check the writer's clock and that ${ctx.layout.tsName} is in microseconds since the epoch`,
            );
          }
          f.ageSeconds = Math.max(0, -aheadSeconds);
          if (options.maxAgeSeconds !== undefined && f.ageSeconds > options.maxAgeSeconds) {
            throw new Error(
              `newest record is ${
                formatDuration(f.ageSeconds)
              } old (limit ${options.maxAgeSeconds} s): is the writer running?`,
            );
          }
          // Within the tolerance, but a clock this far off is worth seeing.
          if (aheadSeconds >= 1) {
            return `${f.records} records, newest ${
              formatDuration(aheadSeconds)
            } ahead of the clock (tolerance ${maxFuture} s)`;
          }
          return `${f.records} records, newest ${formatDuration(f.ageSeconds)} old`;
        });
      }
      feeds.push(f);
    }
  }
  return { healthy: checks.every((c) => c.ok), basePath: paths.base, checks, feeds, freeGb };
}

/** Findings as one message naming the fix. */
function describe(findings: Finding[]): string {
  const shown = findings.slice(0, 5).map((f) =>
    `${f.feed ? `${f.feed}: ` : ""}${f.kind}: ${f.detail}`
  );
  const more = findings.length > shown.length ? `; and ${findings.length - shown.length} more` : "";
  const fixable = findings.some((f) => !["not-a-file", "layout-mismatch"].includes(f.kind));
  return `${shown.join("; ")}${more}${fixable ? ": run deepwater-repair" : ""}`;
}
