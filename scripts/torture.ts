// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * Torture: damage each metadata file at random, kill writers, repair and
 * cleanup at random instants, and check after each trial that nothing
 * crashed or hung, that health and repair agree, and that every committed
 * record that was not physically destroyed is still readable.
 *
 * Per trial, in a fresh directory: a writer child appends verifiable records
 * (record i carries ts = t0 + i, every other field derived from i) to one or
 * two feeds, reporting what returned; it is SIGKILLed at a random instant or
 * finishes. Then, at random: cleanup (past a chosen retention cutoff) and
 * repair, killed or not; one to three damages to metadata (never to record
 * bytes); the application restarting on the damaged directory; repair killed
 * part-way and re-run next to an uninterrupted twin. Then `deepwater-health
 * --check-feeds --json`, `deepwater-repair --all --dry-run --json`,
 * `deepwater-repair --all`, health and the dry run again, and a reader child
 * that reads every record through the API.
 *
 * Failure classes: crash (a signal, an uncaught non-DeepwaterError),
 * hang (a child past its deadline), disagree (health and repair disagree, a
 * dry run changed files, repair left problems), data (a committed record
 * lost, duplicated, wrong or unreadable; a foreign file destroyed; a write
 * outside the base), diverge (repair killed and re-run ends elsewhere than
 * an uninterrupted repair).
 *
 * Usage: deno task torture [--trials N] [--seed S] [--trial K] [--keep]
 *                          [--timeout SECONDS] [--minutes M] [--verbose]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { crashOf, type Run, run } from "./torture/child.ts";
import { type Damage, damageOnce, GROUPS, type Guard } from "./torture/damage.ts";
import { type FeedPlan, prng, RESUME_BASE } from "./torture/records.ts";
import { account, addFigures, type Figures, figures, scanRecords, walk } from "./torture/check.ts";
import type { FeedReport } from "./torture/reader.ts";

const { values } = parseArgs({
  // `deno task torture -- --trials N` passes the "--" through.
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: {
    trials: { type: "string", default: "20" },
    seed: { type: "string" },
    trial: { type: "string" },
    keep: { type: "boolean", default: false },
    timeout: { type: "string", default: "10" },
    minutes: { type: "string" },
    verbose: { type: "boolean", default: false },
    damage: { type: "string" },
    gentle: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    `usage: deno task torture [--trials N] [--seed S] [--trial K] [--keep] [--timeout SECONDS]
                          [--minutes M] [--damage GROUP|none] [--gentle] [--verbose]

  --trials N        trials to run (default 20); --minutes M stops starting new ones after M minutes
  --seed S          seed of the whole run (default: from the clock; printed)
  --trial K         run only trial K of that seed (replays its choices; kill instants are timing)
  --keep            keep each failing trial's directory (printed)
  --timeout SECONDS deadline per child process; past it the child is a hang (default 10)
  --damage GROUP    only damage of this group (prefix): ${GROUPS.join(", ")}; or none
  --gentle          kill nothing: writers and maintenance run to completion
  --verbose         print every step of every trial
exit: 0 every trial passed, 1 some failed`,
  );
  Deno.exit(0);
}
const seed = values.seed === undefined ? (Date.now() % 1_000_000_000) : Number(values.seed);
const fullTimeoutMs = Number(values.timeout) * 1000;
/**
 * The deadline of the next child. Once a child of a trial hung, the rest of
 * that trial gets a short one: the trial has failed already, and whatever
 * hung usually hangs every later step too.
 */
let timeoutMs = fullTimeoutMs;
const gentle = values.gentle;
const CLASSES = ["crash", "hang", "disagree", "data", "diverge", "harness"] as const;
type Class = typeof CLASSES[number];

interface Failure {
  cls: Class;
  msg: string;
}

interface TrialResult {
  k: number;
  damages: Damage[];
  steps: string[];
  failures: Failure[];
  fig: Figures;
  signatures: string[];
  ms: number;
  dir: string;
}

/** Per-operation estimate of how long its work takes once loaded, for kill instants. */
const workMs: Record<string, number> = { repair: 30, cleanup: 15, "cleanup-at": 15 };

function trialSeed(k: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(k, 0x85ebca6b)) >>> 0;
}

async function trial(k: number): Promise<TrialResult> {
  const started = performance.now();
  timeoutMs = fullTimeoutMs;
  const rand = prng(trialSeed(k));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const root = Deno.makeTempDirSync({ prefix: `deepwater-torture-${k}-` });
  const base = join(root, "base");
  const outside = join(root, "outside");
  Deno.mkdirSync(outside);
  const res: TrialResult = {
    k,
    damages: [],
    steps: [],
    failures: [],
    fig: figures(),
    signatures: [],
    ms: 0,
    dir: root,
  };
  const fail = (cls: Class, msg: string) => res.failures.push({ cls, msg });
  const step = (s: string) => {
    res.steps.push(s);
    if (values.verbose) console.log(`  trial ${k}: ${s}`);
  };
  /** Record crash and hang of a child; true when it ended on its own with a verdict to judge. */
  const judge = (r: Run): boolean => {
    if (r.timedOut) {
      fail("hang", `${r.what} still running after ${timeoutMs / 1000} s`);
      timeoutMs = Math.min(fullTimeoutMs, 3000);
    }
    const c = crashOf(r);
    if (c) fail("crash", c);
    return !r.timedOut && !r.killed && r.signal === null && !c;
  };

  // The plan.
  const feeds: FeedPlan[] = [{
    name: "alpha",
    kind: "A",
    chunkMb: pick([0.004, 0.008, 0.016, 0.0625]),
    indexPlayback: rand() < 0.4,
    retentionHours: 1,
  }];
  if (rand() < 0.35) {
    feeds.push({
      name: "beta",
      kind: "B",
      chunkMb: pick([0.004, 0.008, 0.0625]),
      indexPlayback: rand() < 0.3,
      retentionHours: 1,
    });
  }
  const nowUs = Date.now() * 1000;
  const oldData = rand() < 0.3;
  const t0 = nowUs - (oldData ? 2 * 3600e6 : 60e6);
  const total = Math.floor(int(1000, 12000) / feeds.length);
  const acked: { start: number; acked: number }[][] = feeds.map(() => []);
  let expiredBelowTs = 0;

  /** Run the writer; SIGKILL it once it acknowledged `killAt` records of some feed. */
  const writer = async (start: number, count: number, killAt: number | undefined) => {
    const got = feeds.map(() => start);
    const cfg = {
      feeds,
      t0,
      start,
      total: count,
      seed: int(1, 2 ** 30),
      pace: pick([0, 0.3, 0.8]),
      maxBatch: pick([20, 200, 1000, 3000]),
    };
    const r = await run(start ? "restarted writer" : "writer", "scripts/torture/writer.ts", [
      base,
      JSON.stringify(cfg),
    ], {
      timeoutMs,
      onLine: (l) => {
        const m = /^(\d+) (\d+)$/.exec(l);
        if (m) got[Number(m[1])] = Math.max(got[Number(m[1])]!, Number(m[2]));
      },
      killWhen: (l) =>
        killAt !== undefined &&
        (l === "ready" ? killAt === 0 : got.some((g) => g - start >= killAt)),
    });
    feeds.forEach((_, i) => acked[i]!.push({ start, acked: got[i]! - start }));
    judge(r);
    step(
      `${r.what} ${r.killed ? `killed at ack ${killAt}` : `exit ${r.code ?? r.signal}`}: acked ${
        got.map((g) => g - start).join("+")
      }`,
    );
    return r;
  };

  const maintenance = async (dir: string, label: string) => {
    const op = pick(["repair", "cleanup", "cleanup-at", "cleanup-at"] as const);
    const args = [op, dir];
    if (op === "cleanup-at") {
      const cutoffI = int(0, total);
      args.push(String(t0 + cutoffI + feeds[0]!.retentionHours * 3600e6));
    }
    const kill = rand() < 0.6 && !gentle ? Math.floor(rand() * workMs[op]! * 1.2) : undefined;
    const r = await run(`${op} (${label})`, "scripts/torture/maint.ts", args, {
      timeoutMs,
      ...(kill === undefined ? {} : { killAfterMs: kill }),
    });
    judge(r);
    const done = /^done ([\d.]+) (\d+)$/m.exec(r.stdout);
    if (done) workMs[op] = workMs[op]! * 0.8 + Number(done[1]) * 0.2;
    if (op !== "repair") {
      const cutoff = op === "cleanup-at"
        ? Number(args[2]) - feeds[0]!.retentionHours * 3600e6
        : Date.now() * 1000 - feeds[0]!.retentionHours * 3600e6;
      expiredBelowTs = Math.max(expiredBelowTs, cutoff);
    }
    step(
      `${r.what}${
        op === "cleanup-at"
          ? ` cutoff record ${Number(args[2]) - feeds[0]!.retentionHours * 3600e6 - t0}`
          : ""
      } ${r.killed ? `killed after ${kill} ms` : `exit ${r.code ?? r.signal}`}`,
    );
  };

  try {
    // 1. Write, killed at a random instant or finishing.
    const w = await writer(0, total, rand() < 0.8 && !gentle ? int(0, total) : undefined);
    if (!w.stdout.startsWith("ready")) {
      fail("data", `the writer never became ready on a fresh directory: ${w.stderr.slice(0, 300)}`);
      return res;
    }
    // 2. Maintenance before the damage.
    if (rand() < 0.35) await maintenance(base, "before damage");
    // 3. Damage.
    const snap = snapshotLayout(base, feeds);
    const nDamage = ((r) => (r < 0.08 || values.damage === "none" ? 0 : r < 0.75 ? 1 : int(2, 3)))(
      rand(),
    );
    const guards: Guard[] = [];
    for (let i = 0; i < nDamage; i++) {
      const d = damageOnce({ base, feeds, outside }, rand, guards, values.damage ?? "");
      if (d) {
        res.damages.push(d);
        step(`damage ${d.target}/${d.op}: ${d.detail}`);
      }
      // A later damage may hit a file planted earlier: guard what it holds now.
      for (const g of guards) {
        try {
          if (Deno.lstatSync(g.path).isFile) g.bytes = Deno.readFileSync(g.path);
        } catch {
          // removed by the damage itself: guardKept reports it
        }
      }
    }
    const layoutLost = feeds.map((f) => layoutDestroyed(base, f, snap));
    // The application restarts on the damaged directory (createFeed, then appends).
    if (rand() < 0.2) {
      const r = await writer(
        RESUME_BASE,
        int(200, 2000),
        rand() < 0.5 && !gentle ? int(0, 1000) : undefined,
      );
      if (r.stdout.startsWith("ready")) layoutLost.fill(false);
    }
    if (rand() < 0.2) await maintenance(base, "after damage");
    // Repair killed part-way (one to three times), next to an uninterrupted twin.
    let twin: string | undefined;
    if (rand() < 0.3 && !gentle) {
      twin = join(root, "twin");
      await new Deno.Command("cp", { args: ["-a", "--sparse=always", base, twin] }).output();
      for (let n = int(1, 3); n > 0; n--) {
        const kill = Math.floor(rand() * workMs.repair! * 1.5);
        const r = await run("repair (killed)", "scripts/torture/maint.ts", ["repair", base], {
          timeoutMs,
          killAfterMs: kill,
        });
        judge(r);
        const done = /^done ([\d.]+) (\d+)$/m.exec(r.stdout);
        if (done) workMs.repair = workMs.repair! * 0.8 + Number(done[1]) * 0.2;
        step(`repair ${r.killed ? `killed after ${kill} ms` : `finished (exit ${r.code})`}`);
      }
    }

    // 4. The checks.
    const before = await fingerprint(base);
    const [h1, d1] = await Promise.all([health(base), dryRun(base)]);
    const verdicts = [judge(h1), judge(d1)];
    const after = await fingerprint(base);
    const changed = diffPrints(before, after);
    if (changed) fail("disagree", `health or repair --dry-run changed the directory: ${changed}`);
    if (verdicts[0] && verdicts[1]) agree("before repair", h1, d1, res, fail);
    let pre: ReaderOut | undefined;
    if (rand() < 0.7) {
      pre = await reader(base, feeds, t0, rand, judge);
      if (pre) judgeEarlyRead(pre, h1, feeds, acked, t0, expiredBelowTs, fail);
    }
    const fix = await cli("repair", "cli/deepwater-repair.ts", [
      "--base-path",
      base,
      "--all",
      "--json",
    ]);
    const fixed = judge(fix);
    const fixReport = parseJson(fix.stdout);
    if (fixed && fix.code === 2) fail("disagree", `repair --all failed: ${oneLine(fix.stderr)}`);
    else if (fixed && fix.code === 1 && !operatorOnly(fixReport)) {
      fail("disagree", `repair --all left problems: ${findingKinds(fixReport, true).join(", ")}`);
    }
    step(
      `repair --all exit ${fix.code ?? fix.signal}: ${
        findingKinds(fixReport, false).join(", ") || "nothing found"
      }`,
    );
    const [h2, d2, post] = await Promise.all([
      health(base),
      dryRun(base),
      reader(base, feeds, t0, rand, judge),
    ]);
    // A hang or crash of these was reported by judge(); only a verdict is judged here.
    // What repair leaves by design (a file that is not a chunk, a link, a
    // feed whose spec is gone) needs an operator: health and the dry run
    // must then both say so, and nothing else may be left.
    const leftForOperator = judge(d2) && d2.code === 1 && operatorOnly(parseJson(d2.stdout));
    if (judge(h2) && h2.code !== 0 && !leftForOperator) {
      fail("disagree", `after repair, health exits ${h2.code ?? h2.signal}: ${healthProblems(h2)}`);
    }
    if (leftForOperator && judge(h2) && h2.code !== 1) {
      fail(
        "disagree",
        `after repair, the dry run leaves work for an operator but health exits ${h2.code}`,
      );
    }
    if (
      judge(d2) && !leftForOperator &&
      (d2.code !== 0 || findingKinds(parseJson(d2.stdout), false).length)
    ) {
      fail(
        "disagree",
        `after repair, repair --dry-run exits ${d2.code ?? d2.signal}: ${dryProblems(d2)}`,
      );
    }
    // 5. The data.
    if (post) {
      // A feed whose layout is destroyed everywhere cannot be opened (repair
      // reports it to an operator); its records are counted as unrecoverable.
      judgeRead(post, "after repair", feeds.filter((_, i) => !layoutLost[i]), res.damages, fail);
      const qFiles = walk(join(base, "quarantine"));
      const asideFiles = walk(join(base, "feeds")).filter((p) => p.endsWith(".corrupt"));
      feeds.forEach((f, i) => {
        const rep = post.feeds.find((x) => x.name === f.name);
        const { fig, lost } = account({
          ranges: acked[i]!,
          read: idsOf(rep),
          expiredBelowTs,
          t0,
          quarantined: scanRecords(qFiles, f, t0),
          setAside: scanRecords(asideFiles, f, t0),
          layoutLost: layoutLost[i]!,
        });
        addFigures(res.fig, fig);
        if (lost) fail("data", `feed ${f.name}: ${lost}`);
      });
    }
    for (const g of guards) {
      if (!guardKept(g, base)) fail("data", `${g.what} was changed or removed`);
    }
    // Convergence: the killed-and-rerun repair must end where an uninterrupted one does.
    if (twin) {
      const tFix = await cli("repair (twin)", "cli/deepwater-repair.ts", [
        "--base-path",
        twin,
        "--all",
        "--json",
      ]);
      judge(tFix);
      const tPost = await reader(twin, feeds, t0, prng(1), judge);
      if (post && tPost) {
        for (const f of feeds) {
          const a = idsOf(post.feeds.find((x) => x.name === f.name));
          const b = idsOf(tPost.feeds.find((x) => x.name === f.name));
          if (a.size !== b.size || [...a].some((i) => !b.has(i))) {
            fail(
              "diverge",
              `feed ${f.name}: repair killed and re-run kept ${a.size} records, an uninterrupted repair ${b.size}`,
            );
          }
        }
      }
      if ((tFix.code === 0) !== (fix.code === 0)) {
        fail("diverge", `repair after kills exits ${fix.code}, uninterrupted ${tFix.code}`);
      }
    }
  } catch (e) {
    fail("harness", `harness error: ${e instanceof Error ? e.stack : e}`);
  } finally {
    res.ms = performance.now() - started;
  }
  return res;
}

// ---- the CLIs -------------------------------------------------------------

function cli(what: string, script: string, args: string[]): Promise<Run> {
  return run(what, script, args, { timeoutMs });
}

function health(base: string): Promise<Run> {
  return cli("health", "cli/deepwater-health.ts", [
    "--base-path",
    base,
    "--check-feeds",
    "--min-free-gb",
    "0",
    "--json",
  ]);
}

function dryRun(base: string): Promise<Run> {
  return cli("repair --dry-run", "cli/deepwater-repair.ts", [
    "--base-path",
    base,
    "--all",
    "--dry-run",
    "--json",
  ]);
}

// deno-lint-ignore no-explicit-any
function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Finding kinds repair reports and leaves for a person by design (it never touches them). */
const OPERATOR_KINDS = new Set([
  "foreign-file",
  "not-a-file",
  "layout-mismatch",
  "catalog-missing-feed",
]);

/** Whether every unfixed finding of a repair report is one an operator must handle. */
// deno-lint-ignore no-explicit-any
function operatorOnly(report: any): boolean {
  const open = ((report?.findings ?? []) as { kind: string; fixed: boolean }[]).filter((f) =>
    !f.fixed
  );
  return open.length > 0 && open.every((f) => OPERATOR_KINDS.has(f.kind));
}

// deno-lint-ignore no-explicit-any
function findingKinds(report: any, unfixedOnly: boolean): string[] {
  const fs = (report?.findings ?? []) as { kind: string; fixed: boolean; feed: string }[];
  const counts = new Map<string, number>();
  for (const f of fs) {
    if (unfixedOnly && f.fixed) continue;
    const k = `${f.feed || "catalog"}:${f.kind}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => (n > 1 ? `${k} x${n}` : k));
}

function healthProblems(h: Run): string {
  const j = parseJson(h.stdout);
  if (!j) return oneLine(h.stderr || h.stdout);
  if (j.error) return j.error;
  return (j.checks as { name: string; ok: boolean; detail: string }[])
    .filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join("; ").slice(0, 300);
}

function dryProblems(d: Run): string {
  const j = parseJson(d.stdout);
  if (!j) return oneLine(d.stderr || d.stdout);
  return findingKinds(j, false).join(", ");
}

function oneLine(s: string): string {
  return s.trim().split("\n").filter((l) => l.trim()).slice(0, 3).join(" | ").slice(0, 300);
}

/** Health exits 0 exactly when repair --dry-run finds nothing. */
function agree(
  when: string,
  h: Run,
  d: Run,
  res: TrialResult,
  fail: (cls: Class, msg: string) => void,
): void {
  const kinds = findingKinds(parseJson(d.stdout), false);
  const healthy = h.code === 0;
  const clean = d.code === 0 && kinds.length === 0;
  if (h.code === 2) fail("disagree", `${when}: health exits 2 (error): ${healthProblems(h)}`);
  if (d.code === 2 || (d.code !== 0 && d.code !== 1)) {
    fail("disagree", `${when}: repair --dry-run exits ${d.code ?? d.signal}: ${oneLine(d.stderr)}`);
  }
  if (h.code === 2 || d.code === 2 || healthy === clean) return;
  const sig = healthy
    ? `health exits 0, dry run finds ${
      [...new Set(kinds.map((k) => k.split(":")[1]!.split(" ")[0]))].sort().join("+")
    }`
    : `health unhealthy (${healthChecksFailing(h)}), dry run finds nothing`;
  res.signatures.push(sig);
  fail(
    "disagree",
    `${when}: ${
      healthy
        ? `health exits 0 but repair --dry-run finds ${kinds.join(", ")}`
        : `health says ${healthProblems(h)} but repair --dry-run finds nothing`
    }`,
  );
}

function healthChecksFailing(h: Run): string {
  const j = parseJson(h.stdout);
  return ((j?.checks ?? []) as { name: string; ok: boolean }[]).filter((c) => !c.ok)
    .map((c) => c.name.replace(/^feed \w+: /, "feed ")).join("+");
}

// ---- the reader -----------------------------------------------------------

interface ReaderOut {
  platform: { name: string; code?: string; message: string } | null;
  feeds: FeedReport[];
}

async function reader(
  base: string,
  feeds: FeedPlan[],
  t0: number,
  rand: () => number,
  judge: (r: Run) => boolean,
): Promise<ReaderOut | undefined> {
  const r = await run("reader", "scripts/torture/reader.ts", [
    base,
    JSON.stringify({ feeds, t0, seed: Math.floor(rand() * 2 ** 30) }),
  ], { timeoutMs });
  if (!judge(r)) return undefined;
  return parseJson(r.stdout.trim().split("\n").pop() ?? "");
}

function idsOf(rep: FeedReport | undefined): Set<number> {
  const s = new Set<number>();
  for (const [a, b] of rep?.runs ?? []) for (let i = a; i < b; i++) s.add(i);
  return s;
}

/** After repair: every feed readable, every answer right. */
function judgeRead(
  out: ReaderOut,
  when: string,
  feeds: FeedPlan[],
  damages: Damage[],
  fail: (cls: Class, msg: string) => void,
): void {
  if (out.platform) {
    const p = out.platform;
    fail(
      p.name === "DeepwaterError" ? "data" : "crash",
      `${when}: new Platform() threw ${p.name} ${p.code ?? ""}: ${p.message}`,
    );
  }
  for (const f of feeds) {
    const rep = out.feeds.find((x) => x.name === f.name);
    if (!rep) continue;
    for (const e of rep.errors ?? []) {
      if (e.stage === "playback" && markersLinkRefused(damages, f.name, e.message)) continue;
      fail(
        e.name === "DeepwaterError" ? "data" : "crash",
        `${when}: feed ${f.name}: ${e.stage}() threw ${e.name}${
          e.code ? ` ${e.code}` : ""
        }: ${e.message}${
          e.stack ? ` | ${e.stack.split("\n").slice(1, 3).map((s) => s.trim()).join(" | ")}` : ""
        }`,
      );
    }
    wrongAnswers(rep, when, f, damages, fail);
  }
}

function wrongAnswers(
  rep: FeedReport,
  when: string,
  f: FeedPlan,
  damages: Damage[],
  fail: (cls: Class, msg: string) => void,
): void {
  if (rep.badCount) {
    fail(
      "data",
      `${when}: feed ${f.name}: ${rep.badCount} wrong record(s) returned: ${rep.bad.join("; ")}`,
    );
  }
  if (rep.errors?.some((e) => e.stage === "read" || e.stage === "createReader")) return;
  if (rep.count !== null && rep.count !== rep.read + rep.badCount) {
    fail(
      "data",
      `${when}: feed ${f.name}: count() is ${rep.count}, read() returned ${
        rep.read + rep.badCount
      }`,
    );
  }
  if (rep.infoCount !== null && rep.infoCount !== rep.read + rep.badCount) {
    fail(
      "data",
      `${when}: feed ${f.name}: getFeedInfo() counts ${rep.infoCount} records, read() returned ${
        rep.read + rep.badCount
      }`,
    );
  }
  const newest = rep.runs.length ? rep.runs[rep.runs.length - 1]![1] - 1 : null;
  if (rep.latest !== newest && !rep.errors?.some((e) => e.stage === "latest")) {
    fail(
      "data",
      `${when}: feed ${f.name}: latest() is ${
        JSON.stringify(rep.latest)
      }, the newest record read is ${newest}`,
    );
  }
  if (rep.window) fail("data", `${when}: feed ${f.name}: ${rep.window}`);
  const markersHit = damages.some((d) =>
    d.feed === f.name && /^(markers|registry\.marker_count|registry\.file)/.test(d.target)
  );
  if (
    rep.playback && !markersLinkRefused(damages, f.name, rep.playback) &&
    !(markersHit && rep.playback.includes("yielded nothing"))
  ) {
    fail(
      rep.playback.includes("stopped before") ? "hang" : "data",
      `${when}: feed ${f.name}: ${rep.playback}`,
    );
  }
}

/**
 * A markers file replaced by a link is left to an operator by design (repair
 * reports it and never touches links): playback then refuses it, naming it.
 */
function markersLinkRefused(damages: Damage[], feed: string, message: string): boolean {
  return damages.some((d) =>
    d.feed === feed && d.target === "markers" && d.op.startsWith("link")
  ) &&
    /markers\.dwm.*symbolic link/.test(message);
}

/** Before repair: errors are allowed, wrong answers are not; if health said healthy, nothing may be missing. */
function judgeEarlyRead(
  out: ReaderOut,
  h: Run,
  feeds: FeedPlan[],
  acked: { start: number; acked: number }[][],
  t0: number,
  expiredBelowTs: number,
  fail: (cls: Class, msg: string) => void,
): void {
  const healthy = h.code === 0;
  if (out.platform && out.platform.name !== "DeepwaterError") {
    fail(
      "crash",
      `before repair: new Platform() threw ${out.platform.name}: ${out.platform.message}`,
    );
  }
  if (out.platform && healthy) {
    fail(
      "disagree",
      `before repair: health exits 0 but new Platform() throws ${out.platform.code}: ${out.platform.message}`,
    );
  }
  feeds.forEach((f, i) => {
    const rep = out.feeds.find((x) => x.name === f.name);
    if (!rep) return;
    for (const e of rep.errors ?? []) {
      if (e.name !== "DeepwaterError") {
        fail(
          "crash",
          `before repair: feed ${f.name}: ${e.stage}() threw ${e.name}: ${e.message}${
            e.stack ? ` | ${e.stack.split("\n").slice(1, 3).map((s) => s.trim()).join(" | ")}` : ""
          }`,
        );
      } else if (healthy) {
        fail(
          "disagree",
          `before repair: health exits 0 but feed ${f.name}'s ${e.stage}() throws ${e.code}: ${e.message}`,
        );
      }
    }
    if (rep.badCount) {
      fail(
        "data",
        `before repair: feed ${f.name}: ${rep.badCount} wrong record(s) returned: ${
          rep.bad.join("; ")
        }`,
      );
    }
    if (healthy && !rep.errors?.length) {
      const { fig } = account({
        ranges: acked[i]!,
        read: idsOf(rep),
        expiredBelowTs,
        t0,
        quarantined: new Set(),
        setAside: new Set(),
        layoutLost: false,
      });
      if (fig.lost) {
        fail(
          "disagree",
          `before repair: health exits 0 but feed ${f.name} reads ${fig.read} of ${fig.acked} committed records`,
        );
      }
    }
  });
}

// ---- layout sources, guards, fingerprints ---------------------------------

interface LayoutSnapshot {
  catalogEntries: Map<string, Uint8Array>;
  specs: Map<string, Uint8Array>;
  /** Each registry's checksummed spec copy (header bytes 1024..4096). */
  registrySpecs: Map<string, Uint8Array>;
}

/** The registry header's spec area: its length, checksum and JSON. */
const REGISTRY_SPEC_AREA = [1024, 4096] as const;

function snapshotLayout(base: string, feeds: FeedPlan[]): LayoutSnapshot {
  const snap: LayoutSnapshot = {
    catalogEntries: new Map(),
    specs: new Map(),
    registrySpecs: new Map(),
  };
  try {
    const cat = Deno.readFileSync(join(base, "catalog.dwc"));
    const dv = new DataView(cat.buffer);
    for (let o = 64; o + 16384 <= cat.length; o += 16384) {
      const len = dv.getUint32(o + 4, true);
      const entry = JSON.parse(new TextDecoder().decode(cat.subarray(o + 8, o + 8 + len)));
      snap.catalogEntries.set(entry.spec.feed_name, cat.slice(o, o + 16384));
    }
  } catch {
    // no catalog yet
  }
  for (const f of feeds) {
    try {
      snap.specs.set(f.name, Deno.readFileSync(join(base, "feeds", f.name, "spec.json")));
    } catch {
      // no spec copy
    }
    const reg = readRegular(join(base, "feeds", f.name, "registry.dwr"));
    if (reg && reg.length >= REGISTRY_SPEC_AREA[1]) {
      snap.registrySpecs.set(f.name, reg.slice(...REGISTRY_SPEC_AREA));
    }
  }
  return snap;
}

const same = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function readRegular(path: string): Uint8Array | undefined {
  try {
    return Deno.lstatSync(path).isFile ? Deno.readFileSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/** None of the feed's catalog entry, its spec.json and its registry's spec copy survived intact. */
function layoutDestroyed(base: string, f: FeedPlan, snap: LayoutSnapshot): boolean {
  const spec = readRegular(join(base, "feeds", f.name, "spec.json"));
  const want = snap.specs.get(f.name);
  if (spec && want && same(spec, want)) return false;
  const entry = snap.catalogEntries.get(f.name);
  const cat = readRegular(join(base, "catalog.dwc"));
  if (entry && cat) {
    for (let o = 64; o + 16384 <= cat.length; o += 16384) {
      if (same(cat.subarray(o, o + 16384), entry)) return false;
    }
  }
  const area = snap.registrySpecs.get(f.name);
  const reg = readRegular(join(base, "feeds", f.name, "registry.dwr"));
  if (area && reg && reg.length >= REGISTRY_SPEC_AREA[1]) {
    if (same(reg.subarray(...REGISTRY_SPEC_AREA), area)) return false;
  }
  return true;
}

function guardKept(g: Guard, base: string): boolean {
  const now = readRegular(g.path);
  if (now && same(now, g.bytes)) return true;
  if (!g.quarantineOk) return false;
  return walk(join(base, "quarantine")).some((p) => {
    const b = readRegular(p);
    return b !== undefined && same(b, g.bytes);
  });
}

/** Metadata and chunk files by path: type, size, content hash (logs and locks left out). */
async function fingerprint(base: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (/deepwater\.log|\.lock$/.test(e.name)) continue;
      if (e.isDirectory) {
        out.set(p, "dir");
        await visit(p);
      } else if (e.isSymlink) out.set(p, `link ${Deno.readLinkSync(p)}`);
      else {
        const st = Deno.statSync(p);
        const bytes = st.size <= 4 * 2 ** 20 ? Deno.readFileSync(p) : undefined;
        const hash = bytes
          ? Array.from(new Uint8Array(await crypto.subtle.digest("SHA-1", bytes)).slice(0, 8))
            .map((b) => b.toString(16).padStart(2, "0")).join("")
          : `mtime ${st.mtime?.getTime()}`;
        out.set(p, `${st.size} ${hash}`);
      }
    }
  };
  await visit(base);
  return out;
}

function diffPrints(a: Map<string, string>, b: Map<string, string>): string | undefined {
  const d: string[] = [];
  for (const [p, v] of a) if (b.get(p) !== v) d.push(`${p} ${b.has(p) ? "changed" : "removed"}`);
  for (const p of b.keys()) if (!a.has(p)) d.push(`${p} created`);
  return d.length ? d.slice(0, 3).join(", ") : undefined;
}

// ---- the run --------------------------------------------------------------

const t0 = performance.now();
const deadline = values.minutes === undefined ? Infinity : t0 + Number(values.minutes) * 60e3;
const only = values.trial === undefined ? undefined : Number(values.trial);
const n = Number(values.trials);
const results: TrialResult[] = [];
console.log(`torture: seed ${seed}, ${only === undefined ? `${n} trials` : `trial ${only}`}`);
for (let k = only ?? 1; k <= (only ?? n); k++) {
  if (performance.now() > deadline) break;
  const r = await trial(k);
  results.push(r);
  const ok = r.failures.length === 0;
  if (ok || !values.keep) Deno.removeSync(r.dir, { recursive: true });
  if (values.verbose || !ok) {
    console.log(
      `trial ${k}: ${ok ? "ok" : [...new Set(r.failures.map((f) => f.cls))].join("+")} (${
        (r.ms / 1000).toFixed(1)
      } s)${values.keep && !ok ? ` kept ${r.dir}` : ""}`,
    );
    if (!ok) {
      for (const s of r.steps) console.log(`  . ${s.replace(/\/\S+\/base\//g, "")}`);
      for (const f of r.failures) console.log(`  ${f.cls}: ${f.msg}`);
    }
  } else if (k % 10 === 0) console.log(`trial ${k}: ok so far`);
}
summarize(results);

function summarize(rs: TrialResult[]): void {
  const rows = new Map<string, Record<string, number>>();
  const row = (key: string) => {
    let r = rows.get(key);
    if (!r) {
      rows.set(key, r = Object.fromEntries(["trials", "ok", ...CLASSES].map((c) => [c, 0])));
    }
    return r;
  };
  const total = figures();
  for (const r of rs) {
    addFigures(total, r.fig);
    const kinds = r.damages.length
      ? [...new Set(r.damages.map((d) => `${d.target} (${d.op})`))]
      : ["(no damage)"];
    for (const kind of kinds) {
      const x = row(kind);
      x.trials!++;
      if (!r.failures.length) x.ok!++;
      for (const c of new Set(r.failures.map((f) => f.cls))) x[c]!++;
    }
  }
  const cols = ["trials", "ok", ...CLASSES];
  const width = Math.max(28, ...[...rows.keys()].map((k) => k.length));
  console.log(`\n${"damage".padEnd(width)} ${cols.map((c) => c.padStart(9)).join("")}`);
  for (const [k, v] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`${k.padEnd(width)} ${cols.map((c) => String(v[c]).padStart(9)).join("")}`);
  }
  const failing = rs.filter((r) => r.failures.length);
  const byClass = CLASSES.map((c) =>
    `${c} ${rs.filter((r) => r.failures.some((f) => f.cls === c)).length}`
  );
  console.log(
    `\n${rs.length} trials in ${((performance.now() - t0) / 1000).toFixed(0)} s, seed ${seed}: ${
      rs.length - failing.length
    } ok, ${failing.length} failing (${byClass.join(", ")})`,
  );
  console.log(
    `records: ${total.acked} committed, ${total.read} read back, ${total.expired} expired by retention, ${total.quarantined} quarantined, ${total.unrecoverable} unrecoverable (layout destroyed), ${total.lost} lost`,
  );
  const sigs = new Map<string, number>();
  for (const r of rs) for (const s of r.signatures) sigs.set(s, (sigs.get(s) ?? 0) + 1);
  if (sigs.size) {
    console.log("\nhealth/repair disagreements before repair:");
    for (const [s, c] of [...sigs].sort((a, b) => b[1] - a[1])) {
      console.log(`  ${String(c).padStart(4)}  ${s}`);
    }
  }
  if (failing.length) {
    console.log("\nreproductions (deno task torture -- --seed S --trial K --keep):");
    for (const r of failing) {
      const dmg = r.damages.map((d) =>
        `${d.target}/${d.op} [${d.detail.replace(/^\/\S+\/base\//, "")}]`
      ).join("; ") ||
        "no damage";
      const f = r.failures[0]!;
      console.log(
        `  --seed ${seed} --trial ${r.k}: ${dmg} -> ${f.cls}: ${
          f.msg.replace(/\/\S+\/base\//g, "")
        }${r.failures.length > 1 ? ` (+${r.failures.length - 1} more)` : ""}`,
      );
    }
  }
  if (failing.length) Deno.exit(1);
}
