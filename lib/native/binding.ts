/**
 * The only module that calls `Deno.dlopen`: the libdeepwater symbol table,
 * library discovery, the ABI check, and `unwrap`, which turns every non-zero
 * C status into a {@linkcode DeepwaterError}.
 *
 * Only `lib/native/` imports it (and tests and benchmarks that exercise the
 * binding itself): the rest of the library uses the named modules beside it
 * (mapping, lock, doorbell, scan, checksum, disk, atomic_file), so BigInt
 * addresses, futex words and status codes stay inside this folder.
 *
 * Where the library comes from (`$DEEPWATER_LIB`, a checkout's build, the
 * prebuilt library shipped in the package, or a build of its sources) is
 * decided in `locate.ts`; this module loads the first that exists.
 *
 * @module
 */
import { DeepwaterError, type DeepwaterErrorCode } from "../base/errors.ts";
import { ABI_VERSION } from "../base/version.ts";
import { DW_EINVAL, EACCES, ELOOP, ENOSPC } from "./errno.ts";
import { libraryCandidates } from "./locate.ts";

const symbols = {
  /** int dw_abi_version(void) */
  dw_abi_version: { parameters: [], result: "i32" },
  /** const char *dw_strerror(int rc) */
  dw_strerror: { parameters: ["i32"], result: "pointer" },
  /** int dw_map_file(const char *path, uint64_t len, uint32_t flags, uint64_t *out) */
  dw_map_file: { parameters: ["buffer", "u64", "u32", "buffer"], result: "i32" },
  /** dw_map_file on a worker thread (returns a Promise): pre-faults the next chunk */
  dw_map_file_async: {
    name: "dw_map_file",
    parameters: ["buffer", "u64", "u32", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  /** int dw_shm_map(const char *name, uint64_t len, uint32_t flags, uint64_t *out) */
  dw_shm_map: { parameters: ["buffer", "u64", "u32", "buffer"], result: "i32" },
  /** int dw_shm_unlink(const char *name) */
  dw_shm_unlink: { parameters: ["buffer"], result: "i32" },
  /** int dw_disk_space(const char *path, uint64_t *out) */
  dw_disk_space: { parameters: ["buffer", "buffer"], result: "i32" },
  /** int dw_unmap(uint64_t addr, uint64_t len) */
  dw_unmap: { parameters: ["u64", "u64"], result: "i32" },
  /** dw_unmap on a worker thread: the writer retires a full chunk without stalling */
  dw_unmap_async: {
    name: "dw_unmap",
    parameters: ["u64", "u64"],
    result: "i32",
    nonblocking: true,
  },
  /** uint64_t dw_fault_counter(void) */
  dw_fault_counter: { parameters: [], result: "u64" },
  /** int dw_mapping_faulted(uint64_t addr) */
  dw_mapping_faulted: { parameters: ["u64"], result: "i32" },
  /** int dw_msync(uint64_t addr, uint64_t len, int sync) */
  dw_msync: { parameters: ["u64", "u64", "i32"], result: "i32" },
  /** int dw_lock_open(const char *path, int exclusive, int nonblock, int32_t *out_fd) */
  dw_lock_open: { parameters: ["buffer", "i32", "i32", "buffer"], result: "i32" },
  /** int dw_lock_probe(const char *path, int32_t *out_held) */
  dw_lock_probe: { parameters: ["buffer", "buffer"], result: "i32" },
  /** int dw_lock_close(int32_t fd) */
  dw_lock_close: { parameters: ["i32"], result: "i32" },
  /** int dw_spin_while_u64(uint64_t addr, uint64_t seen, uint64_t max_spins, uint64_t *out) */
  dw_spin_while_u64: { parameters: ["u64", "u64", "u64", "buffer"], result: "i32" },
  /** int dw_futex_wait(uint64_t addr, uint32_t expected, uint64_t timeout_ns), off-thread */
  dw_futex_wait: {
    parameters: ["u64", "u32", "u64"],
    result: "i32",
    nonblocking: true,
  },
  /** int dw_futex_wake(uint64_t addr, int32_t count) */
  dw_futex_wake: { parameters: ["u64", "i32"], result: "i32" },
  /** int dw_commit(uint64_t base, uint32_t word, uint32_t value, uint32_t word2, uint32_t value2, uint32_t waiters, uint32_t seen_faults) */
  dw_commit: { parameters: ["u64", "u32", "u32", "u32", "u32", "u32", "u32"], result: "i32" },
  /** int dw_seq_claim(uint64_t base, uint32_t word, uint32_t value) */
  dw_seq_claim: { parameters: ["u64", "u32", "u32"], result: "i32" },
  /** int dw_seq_read(uint8_t *dst, uint32_t at, uint64_t base, uint32_t word, uint32_t want, uint32_t offset, uint32_t len) */
  dw_seq_read: {
    parameters: ["pointer", "u32", "u64", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  /** int dw_scan_ts(uint64_t base, uint64_t count, uint32_t stride, uint32_t ts_offset, uint64_t *out) */
  dw_scan_ts: { parameters: ["u64", "u64", "u32", "u32", "buffer"], result: "i32" },
  /** int dw_copy_scan(uint64_t dst, uint64_t src, uint64_t count, uint32_t stride, uint32_t ts_offset, uint64_t *out) */
  dw_copy_scan: { parameters: ["u64", "u64", "u64", "u32", "u32", "buffer"], result: "i32" },
  /** int dw_crc32c(const uint8_t *buf, uint64_t len, uint32_t seed, uint32_t *out) */
  dw_crc32c: { parameters: ["buffer", "u64", "u32", "buffer"], result: "i32" },
  /** int dw_gather(uint64_t dst, uint64_t src, uint64_t count, uint32_t stride, uint32_t offset, uint32_t width) */
  dw_gather: { parameters: ["buffer", "u64", "u64", "u32", "u32", "u32"], result: "i32" },
  /** dw_gather into a JS buffer (dst) from a JS buffer (src). */
  dw_gather_buf: {
    name: "dw_gather",
    parameters: ["buffer", "buffer", "u64", "u32", "u32", "u32"],
    result: "i32",
  },
  /** int dw_copy(uint64_t dst, uint64_t src, uint64_t len) */
  dw_copy: { parameters: ["u64", "u64", "u64"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound libdeepwater symbols. */
export type Symbols = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** libdeepwater status codes (mirrors deepwater.h). */
export const DW = {
  EINVAL: DW_EINVAL,
  ELOCKED: -30801,
  ETIMEDOUT: -30802,
  EAGAIN: -30803,
  EMAPFULL: -30804,
  EFOREIGN: -30805,
  MAP_WRITE: 1,
  MAP_CREATE: 2,
  MAP_EXCL: 4,
  MAP_PREFAULT: 8,
  MAP_POPULATE: 16,
} as const;

let loaded: Symbols | undefined;

/**
 * Load libdeepwater once and return its symbols. Throws `LIBRARY` with the
 * paths tried and the fix when it is missing, stale or of another ABI.
 */
export function native(): Symbols {
  if (loaded) return loaded;
  const tried: string[] = [];
  for (const candidate of libraryCandidates()) {
    const path = candidate.path;
    tried.push(path);
    if (!candidate.prepare()) continue;
    let lib: Deno.DynamicLibrary<typeof symbols>;
    try {
      lib = Deno.dlopen(path, symbols);
    } catch (cause) {
      if (
        cause instanceof Deno.errors.NotCapable || cause instanceof Deno.errors.PermissionDenied
      ) {
        throw new DeepwaterError(
          "LIBRARY",
          `Cannot load libdeepwater: FFI permission denied: run with --allow-ffi (or -A)`,
          { path, cause },
        );
      }
      continue;
    }
    const abi = lib.symbols.dw_abi_version();
    if (abi !== ABI_VERSION) {
      lib.close();
      throw new DeepwaterError(
        "LIBRARY",
        `Cannot use libdeepwater at "${path}": library ABI ${abi}, TypeScript expects ${ABI_VERSION}: rebuild with \`deno task build\``,
        { path },
      );
    }
    const newer = candidate.stale?.();
    if (newer) {
      lib.close();
      throw new DeepwaterError(
        "LIBRARY",
        `libdeepwater at "${path}" is stale: c/${newer} is newer: rebuild with \`deno task build\``,
        { path },
      );
    }
    loaded = lib.symbols;
    return loaded;
  }
  throw new DeepwaterError(
    "LIBRARY",
    `Cannot find libdeepwater: tried ${
      tried.map((p) => `"${p}"`).join(", ")
    }: run \`deno task build\` or set DEEPWATER_LIB to the library path`,
  );
}

/** Human-readable text for a libdeepwater status. */
function strerror(rc: number): string {
  const p = native().dw_strerror(rc);
  return p === null ? `status ${rc}` : Deno.UnsafePointerView.getCString(p);
}

/**
 * Throw a {@linkcode DeepwaterError} for any non-zero status, else return.
 *
 * @param rc status returned by a libdeepwater call
 * @param action what was being done, as a sentence fragment ("Cannot map chunk")
 * @param path file involved, quoted in the message
 * @param code error code to use instead of the default mapping
 */
export function unwrap(
  rc: number,
  action: string,
  path?: string,
  code?: DeepwaterErrorCode,
): void {
  if (rc === 0) return;
  let c: DeepwaterErrorCode = code ?? "IO";
  let fix = "";
  if (rc === DW.ELOCKED) {
    c = code ?? "WRITER_LOCKED";
    fix = ": another process holds the lock";
  } else if (rc === DW.EINVAL) {
    c = code ?? "INVALID_ARGUMENT";
  } else if (rc === DW.EFOREIGN) {
    c = code ?? "CORRUPT";
    fix = path === undefined
      ? ""
      : `: it may have been planted to forge records; find out who created /dev/shm${path}, remove it, then restart the writer`;
  } else if (rc === DW.EMAPFULL) {
    fix = ": close readers or lower their cacheChunks";
  } else if (rc === ENOSPC) {
    fix = ": the disk is full; free space or run deepwater-cleanup";
  } else if (rc === EACCES) {
    fix = ": check file permissions";
  } else if (rc === ELOOP) {
    // libdeepwater opens with O_NOFOLLOW: ELOOP means a link at the last component.
    c = code ?? "CORRUPT";
    const where = path === undefined ? "" : ` "${path}"`;
    throw new DeepwaterError(
      c,
      `${action}${where}: it is a symbolic link; Deepwater does not follow links inside its data directory: remove the link`,
      { errno: rc, ...(path === undefined ? {} : { path }) },
    );
  }
  const where = path === undefined ? "" : ` "${path}"`;
  throw new DeepwaterError(c, `${action}${where}: ${strerror(rc)}${fix}`, {
    errno: rc,
    ...(path === undefined ? {} : { path }),
  });
}

/** NUL-terminated UTF-8 bytes for a C string argument. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s + "\0");
  if (bytes.indexOf(0) !== bytes.length - 1) {
    throw new DeepwaterError("INVALID_ARGUMENT", `Path contains a NUL byte: "${s}"`);
  }
  return bytes;
}
