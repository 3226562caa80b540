/* Cross-process coordination: flock, the writer's commit, seqlocked slots,
 * acquire-load spinning, futex wait/wake. */
#define _GNU_SOURCE
#include "deepwater.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* See deepwater.h. */
int dw_lock_open(const char *path, int exclusive, int nonblock, int32_t *out_fd) {
    if (!path || !out_fd) return DW_EINVAL;
    /* O_NOFOLLOW: never create or open a lock file through a planted symlink. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return -errno;
    int op = (exclusive ? LOCK_EX : LOCK_SH) | (nonblock ? LOCK_NB : 0);
    while (flock(fd, op) != 0) {
        int e = errno;
        if (e == EINTR) continue;
        close(fd);
        return e == EWOULDBLOCK ? DW_ELOCKED : -e;
    }
    out_fd[0] = fd;
    return 0;
}

/* See deepwater.h. */
int dw_lock_probe(const char *path, int32_t *out_held) {
    if (!path || !out_held) return DW_EINVAL;
    /* Read-only and never created: a probe works for a user who may only read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT) return -errno;
        out_held[0] = 0; /* no lock file: nobody has ever held it */
        return 0;
    }
    int rc = 0;
    while (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) out_held[0] = 1;
        else rc = -errno;
        close(fd);
        return rc;
    }
    flock(fd, LOCK_UN);
    close(fd);
    out_held[0] = 0;
    return 0;
}

/* See deepwater.h. */
int dw_lock_close(int32_t fd) {
    if (fd < 0) return DW_EINVAL;
    flock(fd, LOCK_UN);
    return close(fd) == 0 ? 0 : -errno;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* See deepwater.h. */
int dw_spin_while_u64(uint64_t addr, uint64_t seen, uint64_t max_spins, uint64_t *out) {
    if (addr == 0 || (addr & 7) || !out) return DW_EINVAL;
    _Atomic uint64_t *w = (_Atomic uint64_t *)(uintptr_t)addr;
    uint64_t v = atomic_load_explicit(w, memory_order_acquire);
    for (uint64_t i = 0; v == seen && i < max_spins; i++) {
        cpu_relax();
        v = atomic_load_explicit(w, memory_order_acquire);
    }
    out[0] = v;
    return v == seen ? DW_ETIMEDOUT : 0;
}

/* See deepwater.h. */
int dw_futex_wait(uint64_t addr, uint32_t expected, uint64_t timeout_ns) {
    if (addr == 0 || (addr & 3)) return DW_EINVAL;
    struct timespec ts, *tsp = NULL;
    if (timeout_ns) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
        ts.tv_nsec = (long)(timeout_ns % 1000000000u);
        tsp = &ts;
    }
    long r = syscall(SYS_futex, (uint32_t *)(uintptr_t)addr, FUTEX_WAIT, expected, tsp, NULL, 0);
    if (r == 0) return 0;
    if (errno == EAGAIN) return DW_EAGAIN;
    if (errno == ETIMEDOUT) return DW_ETIMEDOUT;
    if (errno == EINTR) return 0; /* spurious: callers re-check the word */
    return -errno;
}

/* See deepwater.h. */
int dw_futex_wake(uint64_t addr, int32_t count) {
    if (addr == 0 || (addr & 3) || count <= 0) return DW_EINVAL;
    long r = syscall(SYS_futex, (uint32_t *)(uintptr_t)addr, FUTEX_WAKE, count, NULL, NULL, 0);
    return r < 0 ? -errno : (int)r;
}

/* See deepwater.h. */
int dw_commit(uint64_t base, uint32_t word, uint32_t value, uint32_t word2, uint32_t value2,
              uint32_t waiters, uint32_t seen_faults) {
    if (base == 0 || (base & 3)) return DW_EINVAL;
    _Atomic uint32_t *w = (_Atomic uint32_t *)(uintptr_t)base;
    /* The last store is sequentially consistent and so is the waiters load:
     * the load cannot pass it (an xchg on x86-64, stlr then ldar on arm64;
     * a separate seq_cst fence, an mfence, measured ~20 ns slower). */
    if (word2 == DW_COMMIT_NONE) {
        atomic_store_explicit(&w[word], value, memory_order_seq_cst);
    } else {
        atomic_store_explicit(&w[word], value, memory_order_release);
        atomic_store_explicit(&w[word2], value2, memory_order_seq_cst);
    }
    int r = atomic_load_explicit(&w[waiters], memory_order_seq_cst) != 0 ? DW_COMMIT_WAKE : 0;
    return dw_fault_generation() != seen_faults ? r | DW_COMMIT_FAULTED : r;
}

/* See deepwater.h. */
int dw_seq_claim(uint64_t base, uint32_t word, uint32_t value) {
    if (base == 0 || (base & 3)) return DW_EINVAL;
    _Atomic uint32_t *w = (_Atomic uint32_t *)(uintptr_t)base;
    atomic_store_explicit(&w[word], value, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    return 0;
}

/* See deepwater.h. The copy of a slot a writer may be rewriting is the
 * seqlock's accepted race: its bytes are used only when both loads agree. */
int dw_seq_read(uint8_t *dst, uint32_t at, uint64_t base, uint32_t word, uint32_t want,
                uint32_t offset, uint32_t len) {
    if (!dst || base == 0 || (base & 3)) return DW_EINVAL;
    _Atomic uint32_t *w = (_Atomic uint32_t *)(uintptr_t)base;
    if (atomic_load_explicit(&w[word], memory_order_acquire) != want) return 1;
    memcpy(dst + at, (const uint8_t *)(uintptr_t)base + offset, len);
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&w[word], memory_order_relaxed) == want ? 0 : 1;
}
