// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * Enforce the source tree's import rules (run by `deno task check`).
 *
 * The import graph comes from `deno info --json`, Deno's own parser, so only
 * real static `import`/`export … from` statements count: an example inside a
 * doc comment is not an edge, and dynamic `import()` is ignored. Type-only
 * imports count: they tie the layers together as much as value imports do.
 *
 * Rules, for every `.ts` file under `lib/`, plus `mod.ts`, `serve.ts` and `cli/`:
 * - layers, bottom-up: base < native < schema < directory < feed <
 *   {chunks, ring} < ops < lib/platform.ts < {export, replicate} < serve. A file imports its own
 *   folder and lower layers only; `lib/` imports nothing outside `lib/` but
 *   packages. So the core never imports `lib/export/`, `lib/replicate/` or
 *   `lib/serve/`, which alone load the export's, the NATS client's and the
 *   server's npm libraries.
 * - `chunks/` and `ring/` never import each other.
 * - only `lib/native/` imports `lib/native/binding.ts`.
 * - a `reader.ts` never imports a `writer.ts`, nor a writer a reader; `ops/`
 *   imports no writer except `ops/open.ts`, which constructs them.
 * - no import cycle in `lib/`.
 * - every folder under `lib/` has a README.md.
 * - `mod.ts` imports only `lib/` and never `lib/export/`, `lib/replicate/` or
 *   `lib/serve/`; `export.ts`, `replicate.ts` and `serve.ts` (their own
 *   entries) import only their folder; `cli/` imports only `cli/`, `mod.ts`,
 *   `export.ts`, `replicate.ts`, `serve.ts`, `lib/ops/` and `lib/base/`.
 *
 * Usage: deno run --allow-read --allow-write --allow-run scripts/check_imports.ts [--root DIR]
 *
 * `--root` checks another tree laid out the same way (the tests use it);
 * the default is this checkout. Exits 1 and prints one line per violation.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Layer rank of each folder under lib/ (and of lib/platform.ts); equal ranks are peers. */
const LAYERS: Record<string, number> = {
  base: 0,
  native: 1,
  schema: 2,
  directory: 3,
  feed: 4,
  chunks: 5,
  ring: 5,
  ops: 6,
  "platform.ts": 7,
  export: 8,
  replicate: 8,
  serve: 9,
};
const LAYER_ORDER =
  "base < native < schema < directory < feed < {chunks, ring} < ops < platform.ts < {export, replicate} < serve";
const BINDING = "lib/native/binding.ts";

/**
 * Known violations, each `from -> to` (an entry that no longer matches is an
 * error, so the list cannot go stale). Empty: issue 10 removed the last ones.
 * It applies to this checkout only, never to a tree given with `--root`.
 */
const ALLOWED: readonly string[] = [];

/** The one module that constructs writers of both kinds (it picks the kind, nothing more). */
const WRITER_FACTORY = "lib/ops/open.ts";

/** One import statement: `from` imports `to` at `line` (paths relative to the root, `/`-separated). */
interface Edge {
  from: string;
  to: string;
  line: number;
}

/** The part of `deno info --json` this script reads. */
interface ModuleInfo {
  specifier: string;
  dependencies?: {
    isDynamic?: boolean;
    code?: { specifier?: string; span?: { start: { line: number } } };
    type?: { specifier?: string; span?: { start: { line: number } } };
  }[];
}

/** Every `.ts` file under `dir`, relative to `root`, sorted. */
function tsFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(abs)];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const entry of entries) {
      const path = join(abs, entry.name);
      if (entry.isDirectory) walk(path);
      else if (entry.isFile && entry.name.endsWith(".ts")) out.push(relative(root, path));
    }
  };
  walk(join(root, dir));
  return out.sort();
}

/** Every folder under lib/, relative to `root`. */
function libFolders(root: string): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const entry of Deno.readDirSync(abs)) {
      if (!entry.isDirectory) continue;
      const path = join(abs, entry.name);
      out.push(relative(root, path));
      walk(path);
    }
  };
  walk(join(root, "lib"));
  return out.sort();
}

/** The static import edges among `files`, from one `deno info` over all of them. */
async function importEdges(root: string, files: string[]): Promise<Edge[]> {
  const tmp = await Deno.makeTempDir({ prefix: "deepwater-imports-" });
  try {
    const entry = join(tmp, "entry.ts");
    await Deno.writeTextFile(
      entry,
      files.map((f) => `import "${pathToFileURL(join(root, f)).href}";\n`).join(""),
    );
    const config = join(root, "deno.json");
    const hasConfig = await Deno.stat(config).then(() => true, () => false);
    const out = await new Deno.Command(Deno.execPath(), {
      // --no-lock: the graph is all this reads, and it must not add the
      // export's npm packages to the core's lock file.
      args: [
        "info",
        "--json",
        "--no-lock",
        ...(hasConfig ? ["--config", config] : ["--no-config"]),
        entry,
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `Cannot read the import graph: deno info failed: ${
          new TextDecoder().decode(out.stderr).trim()
        }`,
      );
    }
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: ModuleInfo[] };
    const inTree = (specifier: string | undefined): string | undefined => {
      if (!specifier?.startsWith("file:")) return undefined;
      const rel = relative(root, fileURLToPath(specifier));
      return rel.startsWith("..") ? undefined : rel;
    };
    const edges: Edge[] = [];
    for (const mod of info.modules) {
      const from = inTree(mod.specifier);
      if (from === undefined) continue;
      for (const dep of mod.dependencies ?? []) {
        if (dep.isDynamic) continue;
        // A dependency can carry both a code and a type resolution; count it once.
        const seen = new Set<string>();
        for (const res of [dep.code, dep.type]) {
          const to = inTree(res?.specifier);
          if (to === undefined || seen.has(to)) continue;
          seen.add(to);
          edges.push({ from, to, line: (res?.span?.start.line ?? 0) + 1 });
        }
      }
    }
    return edges;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** The layer name of a lib/ file: its folder, or its own name at lib/'s top. */
function layerOf(path: string): string {
  return path.split("/")[1]!;
}

/** The violations of one edge (a message without the location), empty when it is allowed. */
function edgeViolations({ from, to }: Edge): string[] {
  const out: string[] = [];
  const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
  if (to === BINDING && !from.startsWith("lib/native/")) {
    out.push("only lib/native/ imports the binding: use or add a lib/native/ module that wraps it");
  }
  if (from === "mod.ts") {
    if (!to.startsWith("lib/")) out.push("mod.ts re-exports lib/ only");
    else if (to.startsWith("lib/export/")) {
      out.push("mod.ts never imports lib/export/: the export is its own entry, export.ts");
    } else if (to.startsWith("lib/replicate/")) {
      out.push("mod.ts never imports lib/replicate/: it is the separate ./replicate entry");
    } else if (to.startsWith("lib/serve/")) {
      out.push("mod.ts never imports lib/serve/: the server is the separate ./serve export");
    }
    return out;
  }
  if (from === "export.ts") {
    if (!to.startsWith("lib/export/")) out.push("export.ts re-exports lib/export/ only");
    return out;
  }
  if (from === "replicate.ts") {
    if (!to.startsWith("lib/replicate/")) out.push("replicate.ts re-exports lib/replicate/ only");
    return out;
  }
  if (from === "serve.ts") {
    if (!to.startsWith("lib/serve/")) out.push("serve.ts re-exports lib/serve/ only");
    return out;
  }
  if (from.startsWith("cli/")) {
    const ok = [
      "cli/",
      "mod.ts",
      "export.ts",
      "replicate.ts",
      "serve.ts",
      "lib/ops/",
      "lib/base/",
    ].some((p) => to === p || (p.endsWith("/") && to.startsWith(p)));
    if (!ok) {
      out.push(
        "cli/ imports only mod.ts, export.ts, replicate.ts, serve.ts, lib/ops/ and lib/base/: export what it needs from one",
      );
    }
    return out;
  }
  if (!from.startsWith("lib/")) return out;
  if (!to.startsWith("lib/")) {
    out.push("lib/ imports nothing outside lib/ but packages");
    return out;
  }
  const fromLayer = layerOf(from);
  const toLayer = layerOf(to);
  const sameFolder = dirname(from) === dirname(to);
  const fromRank = LAYERS[fromLayer];
  const toRank = LAYERS[toLayer];
  if (fromRank === undefined) {
    out.push(`"${fromLayer}" is no layer (${LAYER_ORDER}): add it to scripts/check_imports.ts`);
  } else if (toRank === undefined) {
    out.push(`"${toLayer}" is no layer (${LAYER_ORDER}): add it to scripts/check_imports.ts`);
  } else if (!sameFolder && toRank > fromRank) {
    out.push(
      `${fromLayer} imports the higher layer ${toLayer} (${LAYER_ORDER}): ` +
        "move what both need down, or invert the dependency",
    );
  }
  const peers = new Set([fromLayer, toLayer]);
  if (!sameFolder && peers.has("chunks") && peers.has("ring")) {
    out.push("chunks/ and ring/ never import each other: move what both need down to lib/feed/");
  }
  const pair = `${base(from)} -> ${base(to)}`;
  if (pair === "reader.ts -> writer.ts" || pair === "writer.ts -> reader.ts") {
    out.push(
      "a reader and a writer never import each other: move what both need to a shared module",
    );
  }
  if (fromLayer === "ops" && base(to) === "writer.ts" && from !== WRITER_FACTORY) {
    out.push("ops/ imports no writer: move what it needs out of the writer");
  }
  return out;
}

/** Each import cycle among lib/ files once, as a path that returns to its start. */
function cycles(edges: Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (!from.startsWith("lib/") || !to.startsWith("lib/")) continue;
    next.set(from, [...(next.get(from) ?? []), to]);
  }
  const found: string[][] = [];
  const keys = new Set<string>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const to of next.get(node) ?? []) {
      const s = state.get(to);
      if (s === "open") {
        const cycle = stack.slice(stack.indexOf(to));
        // The same cycle found from another start is the same rotation set.
        const key = [...cycle].sort().join(" ");
        if (!keys.has(key)) {
          keys.add(key);
          found.push([...cycle, to]);
        }
      } else if (s === undefined) {
        visit(to);
      }
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...next.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

/** This checkout's root, the default tree. */
const OWN_ROOT = resolve(fileURLToPath(new URL("../", import.meta.url)));

/** All violations in the tree at `root`, one line each. */
async function checkImports(root: string): Promise<string[]> {
  const allowed = root === OWN_ROOT ? ALLOWED : [];
  const files = [
    ...tsFiles(root, "lib"),
    ...tsFiles(root, "cli"),
    ...tsFiles(root, ".").filter((f) =>
      ["mod.ts", "export.ts", "replicate.ts", "serve.ts"].includes(f)
    ),
  ];
  const edges = await importEdges(root, files);
  const problems: string[] = [];
  const allowedUsed = new Set<string>();
  for (const edge of edges) {
    const key = `${edge.from} -> ${edge.to}`;
    const found = edgeViolations(edge);
    if (found.length > 0 && allowed.includes(key)) {
      allowedUsed.add(key);
      continue;
    }
    for (const why of found) problems.push(`${edge.from}:${edge.line} imports ${edge.to}: ${why}`);
  }
  for (const cycle of cycles(edges)) {
    problems.push(`Import cycle: ${cycle.join(" -> ")}: break it by moving the shared part down`);
  }
  for (const folder of libFolders(root)) {
    const readme = join(root, folder, "README.md");
    if (!(await Deno.stat(readme).then((s) => s.isFile, () => false))) {
      problems.push(`${folder}/ has no README.md: say what the layer owns and may import`);
    }
  }
  for (const key of allowed) {
    if (!allowedUsed.has(key)) {
      problems.push(
        `${key} is allowed in scripts/check_imports.ts but breaks no rule now: remove the entry`,
      );
    }
  }
  return problems;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { root: { type: "string" } } });
  const root = values.root === undefined ? OWN_ROOT : resolve(values.root);
  const problems = await checkImports(root);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`${problems.length} import rule violation(s) in ${root}`);
    Deno.exit(1);
  }
}
