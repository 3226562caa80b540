/**
 * Where libdeepwater comes from, in this order:
 *
 * 1. `$DEEPWATER_LIB`, alone when set: an explicit override is never second-guessed.
 * 2. In a checkout, `c/build/libdeepwater.so` resolved against this module's URL
 *    (never the working directory), refused when a C source is newer.
 * 3. `libdeepwater.so` next to the running executable (a `deno compile`d CLI).
 * 4. On linux x86-64 and aarch64, the prebuilt library shipped in the package
 *    (`prebuilt/linux_*.ts`), copied to the per-user cache
 *    `$XDG_CACHE_HOME/deepwater/<sha256>/libdeepwater.so` (else `~/.cache/...`).
 *    In a checkout it is used only when it was built from the checkout's C
 *    sources, so an edited `c/` still asks for `deno task build`.
 * 5. On other Linux machines, a build of the sources shipped in the package
 *    (`prebuilt/sources.ts`) with zig or the system C compiler, cached the same way.
 *
 * Why the binaries ship as TypeScript modules (base64): Deno downloads only
 * modules in the import graph, so a `.so` beside the code never reaches a
 * registry user, and fetching it relative to `import.meta.url` at run time
 * would need `--allow-net` to the registry and fail for a recorder restarting
 * without network. As modules named by literal dynamic imports, the binaries
 * are fetched, checksummed by the registry's manifest and cached by Deno when
 * the package is added, are kept by `deno vendor` and `deno compile`, and
 * only the running platform's module is evaluated.
 *
 * Cached libraries are trusted only after checking: each directory is a real
 * directory owned by the user with mode 0700, the library a regular file
 * (never a link), and its SHA-256 is compared with the one shipped in the
 * package right before every `dlopen`; anything else in its place is removed
 * and written again, atomically (`O_EXCL` temporary file, then rename).
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { readSmallFile, removeQuietly, writeFileAtomic } from "./atomic_file.ts";
import { sha256Hex } from "./sha256.ts";

/** The C files libdeepwater is built from; headers included, as they change the build too. */
export const C_SOURCES = [
  "deepwater.h",
  "internal.h",
  "map.c",
  "fault.c",
  "sync.c",
  "search.c",
  "error.c",
] as const;

/**
 * One digest for a set of C sources (name, length and bytes of each, in
 * {@linkcode C_SOURCES} order): what a prebuilt library records it was built from.
 *
 * @param read returns the bytes of one source file
 * @returns the SHA-256 in hex
 */
export function sourcesDigest(read: (name: string) => Uint8Array): string {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const name of C_SOURCES) {
    const body = read(name);
    parts.push(enc.encode(`${name}\n${body.length}\n`), body);
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return sha256Hex(all);
}

/** A place libdeepwater may be loaded from. */
export interface LibraryCandidate {
  /** The library's path, listed in the error when nothing loads. */
  path: string;
  /**
   * Make the library ready to load (check, copy or build it).
   *
   * @returns false when this candidate does not exist here
   * @throws {DeepwaterError} `LIBRARY` when it exists but cannot be made safe to load
   */
  prepare(): boolean;
  /** After loading: the C source newer than the library, if any. */
  stale?(): string | undefined;
}

/** The running platform, as prebuilt libraries are named. */
export const PLATFORM = `${Deno.build.os}-${Deno.build.arch}`;

type Bundle =
  | { kind: "prebuilt"; sha256: string; sourcesSha256: string; base64: string }
  | { kind: "sources"; sourcesSha256: string; sources: Record<string, string> }
  | { kind: "unsupported" }
  | { kind: "unavailable"; cause: unknown };

/** The running platform's part of the package; literal specifiers keep both in the module graph. */
async function loadBundle(): Promise<Bundle> {
  try {
    const m = PLATFORM === "linux-x86_64"
      ? await import("./prebuilt/linux_x86_64.ts")
      : PLATFORM === "linux-aarch64"
      ? await import("./prebuilt/linux_aarch64.ts")
      : undefined;
    if (m) {
      return {
        kind: "prebuilt",
        sha256: m.SHA256,
        sourcesSha256: m.SOURCES_SHA256,
        base64: m.BASE64,
      };
    }
    if (Deno.build.os !== "linux") return { kind: "unsupported" };
    const src = await import("./prebuilt/sources.ts");
    return { kind: "sources", sourcesSha256: src.SOURCES_SHA256, sources: src.SOURCES };
  } catch (cause) {
    return { kind: "unavailable", cause };
  }
}

const bundle = await loadBundle();

/** Largest file accepted as a cached library: a planted huge file is not read whole. */
const MAX_LIBRARY_BYTES = 16 * 1024 * 1024;

const PERMISSIONS =
  "run with --allow-ffi --allow-read --allow-write --allow-env (or -A), or set DEEPWATER_LIB to a libdeepwater.so";

/**
 * Where libdeepwater may be loaded from, in the order of the module doc.
 *
 * @returns the candidates; each is prepared only when the ones before it are missing
 */
export function libraryCandidates(): LibraryCandidate[] {
  let env: string | undefined;
  try {
    env = Deno.env.get("DEEPWATER_LIB");
  } catch {
    env = undefined; // no --allow-env: fall through to the others
  }
  if (env) return [{ path: env, prepare: () => true }];
  const list: LibraryCandidate[] = [];
  const cDir = new URL("../../c/", import.meta.url);
  const checkout = cDir.protocol === "file:";
  if (checkout) {
    const path = new URL("build/libdeepwater.so", cDir).pathname;
    list.push({ path, prepare: () => true, stale: () => staleAgainst(path, cDir) });
  }
  // A `deno compile`d binary: the library shipped next to the executable.
  const exe = Deno.execPath();
  list.push({
    path: exe.slice(0, exe.lastIndexOf("/") + 1) + "libdeepwater.so",
    prepare: () => true,
  });
  const b = bundle;
  if (b.kind === "prebuilt") {
    const path = cachePath(b.sha256);
    list.push({
      path: path ?? `<cache>/deepwater/${b.sha256}/libdeepwater.so`,
      prepare: () => {
        // A checkout whose c/ differs from what the prebuilt was built from must build its own.
        const digest = checkout ? checkoutDigest(cDir) : undefined;
        if (digest !== undefined && digest !== b.sourcesSha256) return false;
        return preparePrebuilt(b.sha256, b.base64);
      },
    });
  } else if (b.kind === "sources" && !(checkout && hasSources(cDir))) {
    list.push({
      path: cachePath(`src-${b.sourcesSha256}`) ?? `<cache>/deepwater/src-.../libdeepwater.so`,
      prepare: () => buildFromSources(b.sources, b.sourcesSha256),
    });
  } else if (b.kind === "unsupported") {
    list.push({
      path: "libdeepwater.so",
      prepare: () => {
        throw new DeepwaterError(
          "LIBRARY",
          `Cannot load libdeepwater on ${PLATFORM}: Deepwater runs on Linux only (it uses futex, shm_open and fallocate): run it on Linux (x86-64 and aarch64 have prebuilt libraries)`,
        );
      },
    });
  } else if (b.kind === "unavailable" && !checkout) {
    list.push({
      path: "libdeepwater.so",
      prepare: () => {
        throw new DeepwaterError(
          "LIBRARY",
          `Cannot load libdeepwater's prebuilt module for ${PLATFORM}: ${b.cause}: reinstall the package (deno cache --reload), or set DEEPWATER_LIB to a libdeepwater.so`,
          { cause: b.cause },
        );
      },
    });
  }
  return list;
}

function hasSources(cDir: URL): boolean {
  try {
    return Deno.statSync(new URL("deepwater.h", cDir)).isFile;
  } catch {
    return false;
  }
}

function checkoutDigest(cDir: URL): string | undefined {
  try {
    return sourcesDigest((name) => Deno.readFileSync(new URL(name, cDir)));
  } catch {
    return undefined; // not a checkout with sources: the package's own prebuilt applies
  }
}

/** Newest mtime of the C sources, to detect a library older than its code. */
function staleAgainst(libPath: string, sourceDir: URL): string | undefined {
  try {
    const lib = Deno.statSync(libPath).mtime?.getTime() ?? 0;
    for (const s of C_SOURCES) {
      const m = Deno.statSync(new URL(s, sourceDir)).mtime?.getTime() ?? 0;
      if (m > lib) return s;
    }
  } catch {
    return undefined; // sources not shipped alongside: nothing to compare
  }
  return undefined;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** `$XDG_CACHE_HOME/deepwater` (an absolute one), else `$HOME/.cache/deepwater`. */
function cacheRoot(): string | undefined {
  const xdg = env("XDG_CACHE_HOME");
  if (xdg?.startsWith("/")) return `${xdg.replace(/\/+$/, "")}/deepwater`;
  const home = env("HOME");
  return home ? `${home.replace(/\/+$/, "")}/.cache/deepwater` : undefined;
}

function cachePath(key: string): string | undefined {
  const root = cacheRoot();
  return root === undefined ? undefined : `${root}/${key}/libdeepwater.so`;
}

function requireCacheRoot(): string {
  const root = cacheRoot();
  if (root === undefined) {
    throw new DeepwaterError(
      "LIBRARY",
      `Cannot cache libdeepwater: neither XDG_CACHE_HOME nor HOME is readable: set one of them and ${PERMISSIONS}`,
    );
  }
  return root;
}

/** Turn a missing permission into the LIBRARY error that names the flags. */
function permitted<T>(what: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new DeepwaterError(
        "LIBRARY",
        `Cannot ${what} "${path}": ${e.message}: ${PERMISSIONS}`,
        {
          path,
          cause: e,
        },
      );
    }
    throw e;
  }
}

/**
 * Make `path` a directory only this user can enter: created 0700, or an
 * existing real directory owned by the user (tightened to 0700 if looser).
 */
function privateDir(path: string): void {
  try {
    Deno.mkdirSync(path, { mode: 0o700 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  const st = Deno.lstatSync(path);
  if (st.isSymlink || !st.isDirectory) {
    throw new DeepwaterError(
      "LIBRARY",
      `Cannot use "${path}" as libdeepwater's cache: it is ${
        st.isSymlink ? "a symbolic link" : "not a directory"
      }: remove it`,
      { path },
    );
  }
  if (st.uid !== Deno.uid()) {
    throw new DeepwaterError(
      "LIBRARY",
      `Cannot use "${path}" as libdeepwater's cache: it belongs to uid ${st.uid}, not to you (uid ${Deno.uid()}): remove it, or set XDG_CACHE_HOME to a directory of yours`,
      { path },
    );
  }
  if (((st.mode ?? 0) & 0o077) !== 0) Deno.chmodSync(path, 0o700);
}

/** The cache directory for `key`, with every level private. */
function cacheDir(key: string): string {
  const root = requireCacheRoot();
  const parent = root.slice(0, root.lastIndexOf("/"));
  return permitted("create libdeepwater's cache", root, () => {
    Deno.mkdirSync(parent, { recursive: true, mode: 0o700 });
    privateDir(root);
    privateDir(`${root}/${key}`);
    return `${root}/${key}`;
  });
}

/**
 * True when `path` is a regular file of this user whose SHA-256 is `sha256`.
 * Anything else there (a link, a directory, other bytes) is removed.
 */
function holds(path: string, sha256: string): boolean {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  if (st.isFile && st.uid === Deno.uid() && st.size <= MAX_LIBRARY_BYTES) {
    if (sha256Hex(Deno.readFileSync(path)) === sha256) return true;
  }
  if (st.isDirectory) Deno.removeSync(path, { recursive: true });
  else removeQuietly(path);
  return false;
}

function preparePrebuilt(sha256: string, base64: string): boolean {
  const dir = cacheDir(sha256);
  const path = `${dir}/libdeepwater.so`;
  return permitted("write libdeepwater to", path, () => {
    if (holds(path, sha256)) return true;
    const bytes = Uint8Array.fromBase64(base64);
    if (sha256Hex(bytes) !== sha256) {
      throw new DeepwaterError(
        "LIBRARY",
        `Cannot use the prebuilt libdeepwater for ${PLATFORM}: its bytes do not match their SHA-256 ${sha256}: the package is damaged: reload it (deno cache --reload)`,
      );
    }
    writeFileAtomic(path, bytes, { sync: false, mode: 0o500 });
    if (!holds(path, sha256)) {
      throw new DeepwaterError(
        "LIBRARY",
        `Cannot cache libdeepwater at "${path}": it changed while being written: check who else writes "${dir}"`,
        { path },
      );
    }
    return true;
  });
}

/** Compilers tried for a platform without a prebuilt library, in order. */
function compilers(): string[][] {
  const list: string[][] = [];
  const zig = env("ZIG");
  if (zig) list.push([...zig.split(" "), "cc"]);
  list.push(["zig", "cc"], ["python3", "-m", "ziglang", "cc"]);
  const cc = env("CC");
  if (cc) list.push(cc.split(" "));
  list.push(["cc"]);
  return list;
}

/**
 * Build libdeepwater from `sources` (file name to text) into the per-user
 * cache with the first compiler that runs, unless a build of the same
 * sources is already there and intact.
 *
 * @param sources the C files, as shipped in `prebuilt/sources.ts`
 * @param sourcesSha256 their {@linkcode sourcesDigest}
 * @returns true once the library is at its cache path
 * @throws {DeepwaterError} `LIBRARY` saying what to install when no compiler runs
 */
export function buildFromSources(sources: Record<string, string>, sourcesSha256: string): boolean {
  const dir = cacheDir(`src-${sourcesSha256}`);
  const path = `${dir}/libdeepwater.so`;
  const sumPath = `${path}.sha256`;
  return permitted("build libdeepwater in", dir, () => {
    let sum: string | undefined;
    try {
      sum = readSmallFile(sumPath, 128).trim();
    } catch {
      sum = undefined;
    }
    if (sum !== undefined && holds(path, sum)) return true;
    const work = Deno.makeTempDirSync({ dir, prefix: "build-" });
    try {
      for (const [name, text] of Object.entries(sources)) {
        Deno.writeTextFileSync(`${work}/${name}`, text, { createNew: true });
      }
      const out = `${work}/libdeepwater.so`;
      const args = ["-std=c11", "-O2", "-fPIC", "-shared", "-o", out];
      const files = C_SOURCES.filter((s) => s.endsWith(".c")).map((s) => `${work}/${s}`);
      const tried: string[] = [];
      for (const cmd of compilers()) {
        tried.push(cmd.join(" "));
        const [exe, ...pre] = cmd as [string, ...string[]];
        let res: Deno.CommandOutput;
        try {
          res = new Deno.Command(exe, {
            args: [...pre, ...args, ...files, "-lrt"],
            stdout: "piped",
            stderr: "piped",
          }).outputSync();
        } catch (e) {
          if (e instanceof Deno.errors.NotFound) continue;
          throw e;
        }
        if (!res.success) {
          const err = new TextDecoder().decode(res.stderr).trim().split("\n").slice(0, 5);
          if (err.some((l) => l.includes("No module named"))) continue; // python3 without ziglang
          throw new DeepwaterError(
            "LIBRARY",
            `Cannot build libdeepwater for ${PLATFORM} with "${cmd.join(" ")}": ${
              err.join(" | ")
            }: build it yourself from the package's c/ sources and set DEEPWATER_LIB to it`,
          );
        }
        const bytes = Deno.readFileSync(out);
        const sha = sha256Hex(bytes);
        writeFileAtomic(path, bytes, { sync: false, mode: 0o500 });
        writeFileAtomic(sumPath, new TextEncoder().encode(sha + "\n"), {
          sync: false,
          mode: 0o600,
        });
        return holds(path, sha);
      }
      throw new DeepwaterError(
        "LIBRARY",
        `Cannot build libdeepwater for ${PLATFORM}: there is no prebuilt library for it and no C compiler was found (tried ${
          tried.map((t) => `"${t}"`).join(", ")
        }): install zig ("pip install ziglang") or a C compiler ("apt-get install gcc") and run again, or build libdeepwater yourself and set DEEPWATER_LIB to it`,
      );
    } finally {
      Deno.removeSync(work, { recursive: true });
    }
  });
}
