/*
 * libdeepwater — the native half of Deepwater, a zero-copy market-data store.
 *
 * Overview
 * --------
 * This header is the whole C API. The library does only what a Deno program
 * cannot do by itself: map files and shared memory, take advisory locks,
 * reserve disk blocks, flush mappings, commit a writer's record (ordered
 * stores, then the waiter check) in one call, claim and read seqlocked ring
 * slots with the fences JavaScript lacks, spin with acquire loads and
 * futex-wait on shared words, scan and copy strided records, gather columns
 * and compute CRC32C. Everything else (formats, records, registries, policy) lives
 * in TypeScript, which validates every length and offset before it calls here.
 *
 * Conventions
 * -----------
 * - Every function returns an int: 0 (or a documented non-negative value) on
 *   success, -errno on an operating-system failure, or a library code in the
 *   reserved range DW_ERR_BASE..DW_ERR_LAST. dw_strerror() names any of them.
 * - Addresses cross the boundary as uint64_t (the mapping base plus offsets),
 *   because JavaScript passes 64-bit integers cheaply as BigInt.
 * - Results are written through caller-owned out-arrays; the library never
 *   allocates on a hot path. Its only global state is the fault table below.
 *
 * Truncated files (SIGBUS containment)
 * ------------------------------------
 * A MAP_SHARED mapping raises SIGBUS when a page beyond the file's end is
 * touched, which happens when another process truncates a mapped file.
 * libdeepwater contains that fault instead of letting it kill the process:
 * - Every mapping made by dw_map_file / dw_shm_map is registered in a static
 *   table of DW_MAX_MAPPINGS slots (start, end, fault flag, protection);
 *   dw_unmap unregisters it. A full table makes the map call fail with
 *   DW_EMAPFULL (the kernel's default vm.max_map_count of 65530 is lower).
 * - On the first map call the library installs a SIGBUS handler (once per
 *   process, keeping the previous disposition). For a fault inside a
 *   registered mapping it maps private zero pages (MAP_FIXED|MAP_PRIVATE|
 *   MAP_ANONYMOUS, the mapping's protection) over the faulting page and the
 *   rest of that mapping, all of which now lies beyond the file's end, sets
 *   the mapping's fault flag and increments a global 32-bit fault
 *   generation, then returns, so the interrupted access completes (reading
 *   zeros; writes land in memory no file backs). Any other SIGBUS goes to
 *   the previous handler (a SA_SIGINFO or plain handler is called; SIG_DFL
 *   or SIG_IGN is restored to SIG_DFL and the signal re-raised).
 * - Callers notice faults cheaply: load the word at dw_fault_counter()
 *   after each batch of accesses and, only when it changed, ask
 *   dw_mapping_faulted() which of their mappings was hit. Data read from a
 *   faulted mapping since the last check must be discarded.
 * - The handler is async-signal-safe: it scans the table with atomic loads
 *   and calls only mmap, sigaction and raise. The table is not cleared by
 *   fork(2); the child inherits both mappings and registrations.
 *
 * Caveats
 * -------
 * - One writer per feed: the writer lock (dw_lock_open) is an flock(2) on a
 *   local file. flock does not work across network filesystems; do not put a
 *   data directory on NFS/SMB.
 * - Mappings are MAP_SHARED. Truncating a mapped file from another process
 *   makes accesses past the new end fault; libdeepwater contains the fault
 *   (see above), but the bytes between the new end and the end of its page
 *   read as zeros without any fault. Deepwater never shrinks a file a
 *   reader may have mapped.
 * - An application that installs its own SIGBUS handler after libdeepwater
 *   mapped something must chain to the previous one, or truncated mappings
 *   kill the process again.
 * - After fork(2), a child inherits mappings but not flock ownership semantics
 *   you may expect: open writers in the child only, never in both.
 * - Little-endian hosts only (x86-64, aarch64); the on-disk magic numbers make
 *   a byte-order mismatch visible instead of silent.
 */
#ifndef DEEPWATER_H
#define DEEPWATER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI version of this header. TypeScript refuses a library whose
 *  dw_abi_version() differs from the version it was written against. */
#define DW_ABI_VERSION 7

/** First library status code (negative, below every errno). */
#define DW_ERR_BASE (-30800)
/** An argument was out of range (null path, zero length, bad flag). */
#define DW_EINVAL (-30800)
/** A non-blocking lock is held by another process. */
#define DW_ELOCKED (-30801)
/** A wait ended because its timeout expired. */
#define DW_ETIMEDOUT (-30802)
/** A futex wait returned because the word no longer held the expected value. */
#define DW_EAGAIN (-30803)
/** Every one of the DW_MAX_MAPPINGS fault-table slots is in use. */
#define DW_EMAPFULL (-30804)
/** A shared-memory object exists but is owned by another user or is
 *  writable by group or others; it is refused, never adopted. */
#define DW_EFOREIGN (-30805)
/** Last library status code. */
#define DW_ERR_LAST (-30805)

/** Slots in the fault table: mappings one process can hold at once. */
#define DW_MAX_MAPPINGS 65536

/** dw_map_file flag: map read-write (default read-only). */
#define DW_MAP_WRITE 1u
/** dw_map_file flag: create the file if missing and size it to `len` with
 *  posix_fallocate so writes through the mapping can never hit ENOSPC. */
#define DW_MAP_CREATE 2u
/** dw_map_file flag: fail with -EEXIST when DW_MAP_CREATE finds a file. */
#define DW_MAP_EXCL 4u
/** dw_map_file flag: write-fault every page before returning, so the
 *  caller's first stores cost no page fault (use from a non-blocking call).
 *  Uses madvise(MADV_POPULATE_WRITE) (Linux 5.14+), else touches each page
 *  with a byte compare-exchange of itself; neither changes content, so it is
 *  safe while another mapping of the same file is being written. */
#define DW_MAP_PREFAULT 8u
/** dw_map_file flag: read-fault every page before returning (MAP_POPULATE). */
#define DW_MAP_POPULATE 16u

/**
 * Return DW_ABI_VERSION as compiled into the library (always positive).
 */
int dw_abi_version(void);

/**
 * Return a static, NUL-terminated description of `rc` (a -errno or DW_E*).
 * Never returns NULL; the string must not be freed.
 */
const char *dw_strerror(int rc);

/**
 * Map a file.
 *
 * path   NUL-terminated file path.
 * len    bytes to map; 0 maps the whole current file (which must be non-empty).
 *        With DW_MAP_CREATE the file is created/extended to `len` bytes first.
 * flags  DW_MAP_* bits.
 * out    uint64_t[4]: out[0] = mapping address, out[1] = mapped length,
 *        out[2] = file size; out[3] is stored last with release order: 1 on
 *        success, 2 on failure. A caller of the non-blocking (worker-thread)
 *        variant polls out[3] with an acquire load instead of waiting for
 *        its event loop.
 *
 * The file is opened with O_NOFOLLOW|O_CLOEXEC: a symbolic link at `path`
 * gives -ELOOP, so a link planted inside a data directory cannot redirect
 * reads or writes elsewhere (only the last component is checked).
 *
 * Returns 0, -errno, or DW_EINVAL. The file descriptor is closed before
 * returning; the mapping stays valid until dw_unmap(). On failure nothing is
 * left mapped or open (a file created by this call is left in place, empty
 * or partially sized; callers create under a temporary name and rename).
 */
int dw_map_file(const char *path, uint64_t len, uint32_t flags, uint64_t *out);

/**
 * Map (creating if asked) a POSIX shared-memory object, as dw_map_file does
 * for files. `name` must start with '/' and contain no other '/'.
 * out is a uint64_t[4] exactly as for dw_map_file.
 *
 * With DW_MAP_CREATE the object is created with O_CREAT|O_EXCL and mode 0600
 * (owner only) and `len` bytes are allocated with posix_fallocate, so a full
 * /dev/shm fails here with -ENOSPC (and the new object is unlinked) instead
 * of raising SIGBUS on a later write. When the object already exists (and
 * DW_MAP_EXCL is not set) it is attached instead, like any open without
 * DW_MAP_CREATE: an existing object must be owned by the effective uid and
 * not be writable by group or others, else DW_EFOREIGN (a foreign object is
 * never adopted; one of ours smaller than `len` is extended as above).
 */
int dw_shm_map(const char *name, uint64_t len, uint32_t flags, uint64_t *out);

/**
 * Remove a shared-memory object name (existing mappings stay valid).
 * Returns 0 or -errno (-ENOENT when it did not exist).
 */
int dw_shm_unlink(const char *name);

/**
 * Space on the filesystem holding `path`: out[0] = bytes available to an
 * unprivileged user, out[1] = total bytes (statvfs). For health checks.
 */
int dw_disk_space(const char *path, uint64_t *out);

/**
 * Unregister and unmap [addr, addr+len) as returned by dw_map_file/dw_shm_map.
 */
int dw_unmap(uint64_t addr, uint64_t len);

/**
 * Address of the process-wide fault generation: a uint32_t, 4-byte aligned,
 * valid for the life of the process, incremented (atomically) each time the
 * SIGBUS handler contains a fault in a registered mapping. Read it with an
 * acquire or sequentially consistent load; never write it.
 */
uint64_t dw_fault_counter(void);

/**
 * Whether the registered mapping starting at `addr` (an address returned by
 * dw_map_file/dw_shm_map) has had pages replaced by the SIGBUS handler:
 * returns 1 if so, 0 if not, -ENOENT when no such mapping is registered.
 * A faulted mapping stays faulted until unmapped.
 */
int dw_mapping_faulted(uint64_t addr);

/**
 * Flush [addr, addr+len) of a file mapping to storage. `sync` non-zero waits
 * for completion (MS_SYNC), zero schedules it (MS_ASYNC). The range is widened
 * to page boundaries internally.
 */
int dw_msync(uint64_t addr, uint64_t len, int sync);

/**
 * Open (creating if missing, mode 0644) `path` and take an flock(2) on it.
 * Opened with O_NOFOLLOW|O_CLOEXEC: a symbolic link at `path` gives -ELOOP.
 *
 * exclusive  non-zero for LOCK_EX, zero for LOCK_SH.
 * nonblock   non-zero to fail with DW_ELOCKED instead of waiting.
 * out_fd     out_fd[0] receives the descriptor; release with dw_lock_close().
 *
 * The lock dies with the process (including SIGKILL), so it can never go stale.
 */
int dw_lock_open(const char *path, int exclusive, int nonblock, int32_t *out_fd);

/**
 * Whether another process holds an exclusive lock on `path`, without taking
 * it and without creating the file: opens read-only (O_NOFOLLOW), tries a
 * non-blocking shared flock and releases it at once. out_held[0] = 1 when an
 * exclusive holder exists, 0 when not (or when the file does not exist).
 * Returns 0 or -errno (-ELOOP for a symbolic link).
 */
int dw_lock_probe(const char *path, int32_t *out_held);

/**
 * Release a lock taken by dw_lock_open and close its descriptor.
 */
int dw_lock_close(int32_t fd);

/**
 * Spin until the 64-bit word at `addr` differs from `seen` or `max_spins`
 * iterations pass, then write the last loaded value to out[0]. Returns 0 if
 * it changed, DW_ETIMEDOUT otherwise. Uses acquire loads and a CPU pause hint;
 * never sleeps. Used by the busy-spin tail mode.
 */
int dw_spin_while_u64(uint64_t addr, uint64_t seen, uint64_t max_spins, uint64_t *out);

/**
 * Block until the 32-bit shared word at `addr` is woken, no longer equals
 * `expected`, or `timeout_ns` (0 = no timeout) elapses. Returns 0 when woken,
 * DW_EAGAIN when the value already differed, DW_ETIMEDOUT, or -errno.
 * Process-shared (no FUTEX_PRIVATE_FLAG). Call it as a non-blocking FFI
 * function so the JavaScript thread keeps running.
 */
int dw_futex_wait(uint64_t addr, uint32_t expected, uint64_t timeout_ns);

/**
 * Wake up to `count` waiters blocked on the 32-bit word at `addr`.
 * Returns the number woken (>= 0) or -errno.
 */
int dw_futex_wake(uint64_t addr, int32_t count);

/** dw_commit result bit: readers are waiting (waiters word non-zero); ring the doorbell. */
#define DW_COMMIT_WAKE 1
/** dw_commit result bit: the fault generation differs from `seen_faults`. */
#define DW_COMMIT_FAULTED 2
/** dw_commit `word2` value meaning "no second word". */
#define DW_COMMIT_NONE 0xFFFFFFFFu

/**
 * A writer's per-record commit in one call: store `value` to the 32-bit word
 * `word` of the shared mapping at `base` and then `value2` to word `word2`
 * (skipped when it is DW_COMMIT_NONE), so every earlier store (the record's
 * bytes) is visible before either; the last of them is sequentially
 * consistent, so the loads that follow cannot pass it; then load the waiters
 * word `waiters` and the fault generation (see dw_fault_counter). Word
 * arguments are u32 indices into the mapping, which must hold them (the
 * caller computes them, never a file).
 *
 * Returns DW_COMMIT_WAKE | DW_COMMIT_FAULTED bits (0 when neither holds), or
 * DW_EINVAL for a null or misaligned `base`. The store-then-load order pairs
 * with a reader that adds itself to the waiters word and then re-checks the
 * committed word, both sequentially consistent: either the writer sees the
 * waiter or the reader sees the commit (see lib/native/doorbell.ts). This
 * replaces three to four JavaScript Atomics calls per record (each a runtime
 * call in V8) with one fast FFI call.
 */
int dw_commit(uint64_t base, uint32_t word, uint32_t value, uint32_t word2, uint32_t value2,
              uint32_t waiters, uint32_t seen_faults);

/**
 * Seqlock writer, before it rewrites a slot: store `value` (odd: "being
 * written") to the 32-bit word `word` (a u32 index) of the mapping at
 * `base`, then a release fence, so every store that follows (the slot's new
 * bytes) becomes visible after it. (On x86-64 the fence costs nothing; on
 * arm64 it is the `dmb` a JavaScript store cannot give: an `Atomics.store`
 * orders only what comes before it.) The slot is completed by a release
 * store of the even value, e.g. through dw_commit. Returns 0, or DW_EINVAL
 * for a null or misaligned `base`.
 */
int dw_seq_claim(uint64_t base, uint32_t word, uint32_t value);

/**
 * Seqlock reader: copy `len` bytes at byte `offset` of the mapping at `base`
 * to `dst + at` if the 32-bit word `word` (a u32 index) holds `want` both
 * before the copy (acquire load) and after it (acquire fence, then load), so
 * a copy that raced a writer is reported instead of returned. Returns 0 when
 * the copy is intact, 1 when the slot did not hold `want` or changed while
 * copied (dst then holds unspecified bytes), or DW_EINVAL for null or
 * misaligned pointers. The caller keeps every range inside its buffers.
 */
int dw_seq_read(uint8_t *dst, uint32_t at, uint64_t base, uint32_t word, uint32_t want,
                uint32_t offset, uint32_t len);

/**
 * Scan `count` records at `base` and report on their uint64 timestamps:
 * out[0] = min, out[1] = max, out[2] = first, out[3] = last, out[4] = 1 when
 * non-decreasing (else 0), out[5] = 1 when any exceeds 2^53-1.
 * With count == 0 it writes zeros. Returns 0, or DW_EINVAL when stride is zero
 * or ts_offset + 8 > stride.
 */
int dw_scan_ts(uint64_t base, uint64_t count, uint32_t stride, uint32_t ts_offset,
               uint64_t *out);

/**
 * Copy `count` records of `stride` bytes from `src` to `dst` (non-overlapping)
 * and scan the copied timestamps exactly as dw_scan_ts does, in one pass over
 * memory. Used by batch appends: the copy lands in the uncommitted part of a
 * chunk, so a batch whose scan fails is simply never published.
 */
int dw_copy_scan(uint64_t dst, uint64_t src, uint64_t count, uint32_t stride, uint32_t ts_offset,
                 uint64_t *out);

/**
 * CRC32C (Castagnoli) of `len` bytes at `buf`, continuing from `seed`
 * (0 for a fresh checksum), written to out[0].
 */
int dw_crc32c(const uint8_t *buf, uint64_t len, uint32_t seed, uint32_t *out);

/**
 * Gather one field out of `count` records of `stride` bytes at `src` into a
 * packed column at `dst`: `width` bytes from offset `offset` of each record,
 * written back to back (dst receives count * width bytes). Columnar reads use
 * it to fill typed arrays at memory speed. `offset + width` must fit the
 * stride; the areas must not overlap.
 */
int dw_gather(uint64_t dst, uint64_t src, uint64_t count, uint32_t stride, uint32_t offset,
              uint32_t width);

/**
 * Copy `len` bytes from `src` to `dst` (non-overlapping addresses). Exists
 * for the benchmarks: the memcpy baseline of writeBatch, and bulk fills.
 */
int dw_copy(uint64_t dst, uint64_t src, uint64_t len);

#ifdef __cplusplus
}
#endif

#endif /* DEEPWATER_H */
