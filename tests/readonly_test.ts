import { assert, assertCode, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import { lines, tempDir, tradeSpec, writeTrades } from "./helpers.ts";

const root = new URL("../", import.meta.url);
/** Switching users needs root and util-linux's setpriv. */
const canSwitchUser = Deno.uid() === 0 && (() => {
  try {
    return Deno.statSync("/usr/bin/setpriv").isFile;
  } catch {
    return false;
  }
})();
const NOBODY = 65534;

/**
 * A world-readable scratch area owned by root: `data` (the data directory,
 * 0755/0644 like any root-written directory), `repo` (a copy of the code
 * `nobody` runs: the checkout itself may sit under a directory only root can
 * enter, such as a `mktemp -d` clone) and a Deno cache `nobody` may write,
 * holding a copy of the npm packages the library imports (root's cache is
 * under /root, which `nobody` cannot enter).
 */
async function readOnlySetup(): Promise<
  { dir: string; data: string; denoDir: string; repo: string } & Disposable
> {
  const d = tempDir();
  Deno.chmodSync(d.path, 0o755);
  const data = `${d.path}/data`;
  const denoDir = `${d.path}/deno-dir`;
  const repo = `${d.path}/repo`;
  Deno.mkdirSync(repo);
  const code = ["mod.ts", "serve.ts", "deno.json", "lib", "cli", "c", "tests", "scripts"];
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const npmCache = JSON.parse(new TextDecoder().decode(info.stdout)).npmCache as string;
  Deno.mkdirSync(`${denoDir}/npm/registry.npmjs.org`, { recursive: true });
  for (
    const cmd of [
      ["cp", "-r", `${npmCache}/registry.npmjs.org/@logtape`, `${denoDir}/npm/registry.npmjs.org/`],
      ["chown", "-R", `${NOBODY}:${NOBODY}`, denoDir],
      // -a keeps mtimes: the library must stay newer than its C sources.
      ["cp", "-a", ...code.map((f) => new URL(f, root).pathname), repo],
      ["chmod", "-R", "a+rX", repo],
    ]
  ) {
    const r = await new Deno.Command(cmd[0]!, { args: cmd.slice(1) }).output();
    assert(r.success, cmd.join(" "));
  }
  return { dir: d.path, data, denoDir, repo, [Symbol.dispose]: () => d[Symbol.dispose]() };
}

/** Deno running `script` (relative to the repository) as `nobody`, from the setup's copy. */
function asNobody(
  setup: { dir: string; denoDir: string; repo: string },
  script: string,
  args: string[],
) {
  return new Deno.Command("/usr/bin/setpriv", {
    args: [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      "--clear-groups",
      Deno.execPath(),
      "run",
      "-A",
      "--cached-only",
      "--no-lock",
      "--config",
      `${setup.repo}/deno.json`,
      `${setup.repo}/${script}`,
      ...args,
    ],
    cwd: setup.dir,
    env: { DENO_DIR: setup.denoDir, HOME: setup.dir, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function runAsNobody(
  setup: { dir: string; denoDir: string; repo: string },
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await asNobody(setup, script, args).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Every path under `dir` (lstat), with its size and mtime. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const p = `${d}/${e.name}`;
      const st = Deno.lstatSync(p);
      out.push(`${p.slice(dir.length)} ${st.isDirectory ? "dir" : st.size}`);
      if (st.isDirectory) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

function seed(data: string, n: number): void {
  using p = new Platform(data, { log: { console: false }, signals: "none" });
  p.createFeed(tradeSpec("trades"));
  writeTrades(p, "trades", 0, n, (i) => 1_700_000_000_000_000 + i);
}

Deno.test({
  name:
    "A user who may only read the directory lists, describes, reads and streams feeds; writes throw READ_ONLY; nothing is created or logged",
  ignore: !canSwitchUser,
  async fn() {
    using s = await readOnlySetup();
    seed(s.data, 100);
    using p = new Platform(s.data, { log: { console: false }, signals: "none" });
    using w = p.createWriter("trades");
    await w.ready;
    const before = snapshot(s.data);
    const log = Deno.readTextFileSync(`${s.data}/deepwater.log`);
    const child = asNobody(s, "tests/children/readonly_consumer.ts", [s.data, "5"]).spawn();
    const steps: Record<string, unknown> = {};
    for await (const line of lines(child.stdout)) {
      const { step, value } = JSON.parse(line);
      steps[step] = value;
      if (step === "streaming") {
        for (let i = 100; i < 105; i++) w.writeValues(i, 2 * i + 1, 1_700_000_000_000_000 + i);
      }
    }
    const status = await child.status;
    const stderr = await new Response(child.stderr).text();
    assertEquals(status.code, 0, JSON.stringify(steps) + stderr);
    assertEquals(steps.readOnly, true);
    assertEquals(steps.feeds, ["trades"]);
    assertEquals([steps.records, steps.read, steps.latest], [100, 100, 99]);
    for (const op of ["createFeed", "createWriter", "removeRing"]) {
      const msg = steps[op] as string;
      assert(msg.startsWith("READ_ONLY: ") && msg.includes(s.data), `${op}: ${msg}`);
    }
    assertEquals(steps.streamed, [100, 101, 102, 103, 104]);
    assertEquals(
      snapshot(s.data).filter((l) => !l.includes(".dwk ") && !l.includes(".dwr ")),
      before.filter((l) => !l.includes(".dwk ") && !l.includes(".dwr ")),
    );
    assertEquals(Deno.readTextFileSync(`${s.data}/deepwater.log`), log);
  },
});

Deno.test({
  name:
    "deepwater feeds|info|query|tail and deepwater-health work for a user who may only read the directory",
  ignore: !canSwitchUser,
  async fn() {
    using s = await readOnlySetup();
    seed(s.data, 50);
    const before = snapshot(s.data);
    const base = ["--base-path", s.data];
    let r = await runAsNobody(s, "cli/deepwater.ts", ["feeds", ...base]);
    assertEquals(r.code, 0, r.stderr);
    assert(/^trades\s+chunks\s+50 records/.test(r.stdout), r.stdout);
    r = await runAsNobody(s, "cli/deepwater.ts", ["info", "trades", "--json", ...base]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.stdout).recordCount, 50);
    r = await runAsNobody(s, "cli/deepwater.ts", ["query", "trades", "--format", "jsonl", ...base]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout.trim().split("\n").length, 50);
    r = await runAsNobody(s, "cli/deepwater-health.ts", [
      ...base,
      "--check-feeds",
      "--min-free-gb",
      "0",
    ]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    r = await runAsNobody(s, "cli/deepwater.ts", [
      "health",
      ...base,
      "--check-feeds",
      "--min-free-gb",
      "0",
    ]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assertEquals(snapshot(s.data), before);
    // tail: announce, then show what the (root) writer commits.
    const tail = asNobody(s, "cli/deepwater.ts", ["tail", "trades", "--json", ...base]).spawn();
    const err = lines(tail.stderr);
    const announced = await err.next();
    assert(String(announced.value).includes("tailing"), String(announced.value));
    {
      using p = new Platform(s.data, { log: { console: false }, signals: "none" });
      writeTrades(p, "trades", 50, 53, (i) => 1_700_000_000_000_000 + i);
    }
    const out = lines(tail.stdout);
    const got = [];
    for (let i = 0; i < 3; i++) got.push(JSON.parse(String((await out.next()).value)).price);
    tail.kill("SIGTERM");
    assertEquals((await tail.status).code, 143);
    for await (const _ of out) { /* drain */ }
    for await (const _ of err) { /* drain */ }
    assertEquals(got, [50, 51, 52]);
  },
});

Deno.test("new Platform(dir, { readOnly: true }) creates nothing: no directory, no manifest, no log", () => {
  using d = tempDir();
  const missing = `${d.path}/missing`;
  assertCode(
    () => new Platform(missing, { readOnly: true }),
    "READ_ONLY",
    "not a Deepwater data directory",
  );
  assertEquals([...Deno.readDirSync(d.path)].length, 0);
  assertCode(() => new Platform(d.path, { readOnly: true }), "READ_ONLY", "write access");
  assertEquals([...Deno.readDirSync(d.path)].length, 0);
  seed(d.path, 10);
  Deno.removeSync(`${d.path}/deepwater.log`);
  const before = snapshot(d.path);
  {
    using p = new Platform(d.path, { readOnly: true, log: { console: false }, signals: "none" });
    assert(p.readOnly);
    using r = p.createReader("trades");
    assertEquals(r.count(), 10);
    assertEquals(p.getFeedInfo("trades").recordCount, 10);
  }
  assertEquals(snapshot(d.path), before);
});

Deno.test("A readOnly Platform refuses createFeed, createWriter and removeRing with READ_ONLY", () => {
  using d = tempDir();
  seed(d.path, 10);
  using rw = new Platform(d.path, { log: { console: false }, signals: "none" });
  using ro = new Platform(d.path, { readOnly: true, log: { console: false }, signals: "none" });
  assertCode(() => ro.createFeed(tradeSpec("other")), "READ_ONLY", "read-only");
  assertCode(() => ro.createWriter("trades"), "READ_ONLY", "read-only");
  assertEquals(ro.listFeeds(), ["trades"]);
  rw.createFeed(tradeSpec("ring", 0.0625, { persist: false }));
  assertCode(() => ro.removeRing("ring"), "READ_ONLY", "read-only");
  rw.removeRing("ring");
});

Deno.test("A readOnly Platform's stream() follows another platform's writer", async () => {
  using d = tempDir();
  seed(d.path, 10);
  using rw = new Platform(d.path, { log: { console: false }, signals: "none" });
  using ro = new Platform(d.path, { readOnly: true, log: { console: false }, signals: "none" });
  using r = ro.createReader("trades");
  const live = r.stream({ wait: "block" })[Symbol.asyncIterator]();
  const next = live.next();
  writeTrades(rw, "trades", 10, 12, (i) => 1_700_000_000_000_000 + i);
  assertEquals((await next).value?.price, 10);
  assertEquals((await live.next()).value?.price, 11);
  await live.return?.();
});

Deno.test({
  name: "deepwater-health as a user who may only read sees a running writer as running, not dead",
  ignore: !canSwitchUser,
  async fn() {
    using s = await readOnlySetup();
    seed(s.data, 50);
    const p = new Platform(s.data, { log: { console: false }, signals: "none" });
    try {
      using w = p.createWriter("trades"); // holds the writer lock and records its pid
      w.writeValues(50, 101, 50);
      const r = await runAsNobody(s, "cli/deepwater-health.ts", [
        "--base-path",
        s.data,
        "--check-feeds",
        "--min-free-gb",
        "0",
      ]);
      assertEquals(r.code, 0, r.stdout + r.stderr);
      assert(!r.stdout.includes("stale-writer"), r.stdout);
    } finally {
      p.close();
    }
  },
});
