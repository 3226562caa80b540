/* SIGBUS containment: the mapping table and the SIGBUS handler.
 *
 * A MAP_SHARED file mapping raises SIGBUS when a page beyond the file's end
 * is touched, which happens when another process truncates the file under
 * us. The default action kills the process, and a Deno program cannot catch
 * it. Instead, every mapping libdeepwater makes is registered here; the
 * handler replaces the rest of a registered mapping, from the faulting page
 * on, with private zero pages (so the interrupted access completes), marks
 * the mapping as faulted and bumps a global counter that TypeScript watches
 * with one Atomics.load after each batch of accesses, turning the fault into
 * a CORRUPT error. Faults at any other address go to the previous handler.
 *
 * Everything the handler touches is a fixed-size static array of atomics:
 * no allocation, no locks, only async-signal-safe calls (mmap, sigaction,
 * raise). */
#define _GNU_SOURCE
#include "deepwater.h"
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define DW_PAGE_SIZE 4096u

/* One registered mapping. A slot is free while start == 0. Registration
 * claims a slot by compare-exchanging start from 0, then publishes end
 * (release); removal clears end first, then start, so the handler (which
 * loads start, then end) never matches a half-written range. */
struct dw_region {
    _Atomic uintptr_t start; /* first byte (page-aligned); 0 = free slot */
    _Atomic uintptr_t end;   /* one past the last byte; 0 while being claimed */
    _Atomic uint32_t faults; /* 1 once the handler replaced pages of this mapping */
    _Atomic int32_t prot;    /* PROT_* of the mapping, reused for the zero pages */
};

static struct dw_region regions[DW_MAX_MAPPINGS];
/* Slots ever claimed (scan bound for lookups; never decreases). */
static _Atomic uint32_t regions_top;
/* Fault generation: incremented once per handled fault. Read by TypeScript. */
static _Atomic uint32_t fault_generation;
/* Handler installation: 0 not yet, 1 installing, 2 installed. */
static _Atomic int install_state;
/* The SIGBUS disposition in force before ours, for chaining. */
static struct sigaction previous;

/* Pass a fault we do not own to whoever handled SIGBUS before us (the Deno
 * runtime installs one; with none, restore the default and re-raise so the
 * process dies exactly as it would have without this library). */
static void chain(int sig, siginfo_t *info, void *ctx) {
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) {
            previous.sa_sigaction(sig, info, ctx);
            return;
        }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* SIG_DFL, or SIG_IGN (ignoring a synchronous SIGBUS would re-fault forever). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

static void on_sigbus(int sig, siginfo_t *info, void *ctx) {
    int saved = errno;
    /* Only kernel-generated "no backing page" faults; a SIGBUS sent with
     * kill() carries no meaningful address. */
    if (info && (info->si_code == BUS_ADRERR || info->si_code == BUS_MCEERR_AR)) {
        uintptr_t a = (uintptr_t)info->si_addr;
        uint32_t top = atomic_load_explicit(&regions_top, memory_order_acquire);
        for (uint32_t i = 0; i < top; i++) {
            uintptr_t s = atomic_load_explicit(&regions[i].start, memory_order_acquire);
            if (s == 0 || a < s) continue;
            uintptr_t e = atomic_load_explicit(&regions[i].end, memory_order_acquire);
            if (a >= e) continue;
            /* Everything from the faulting page on lies beyond the file's new
             * end, so replace it all at once: one signal per truncation
             * instead of one per page. */
            uintptr_t page = a & ~(uintptr_t)(DW_PAGE_SIZE - 1);
            int prot = atomic_load_explicit(&regions[i].prot, memory_order_relaxed);
            void *p = mmap((void *)page, e - page, prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
            if (p == MAP_FAILED) break; /* cannot contain it: fall through to chaining */
            atomic_store_explicit(&regions[i].faults, 1, memory_order_release);
            atomic_fetch_add_explicit(&fault_generation, 1, memory_order_release);
            errno = saved;
            return;
        }
    }
    errno = saved;
    chain(sig, info, ctx);
}

/* Install the handler once per process (idempotent, thread-safe). */
static int install(void) {
    int st = atomic_load_explicit(&install_state, memory_order_acquire);
    if (st == 2) return 0;
    int expected = 0;
    if (atomic_compare_exchange_strong(&install_state, &expected, 1)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, &previous) != 0) {
            int e = errno;
            atomic_store_explicit(&install_state, 0, memory_order_release);
            return -e;
        }
        atomic_store_explicit(&install_state, 2, memory_order_release);
        return 0;
    }
    while (atomic_load_explicit(&install_state, memory_order_acquire) == 1) {
        /* another thread is installing it: a single syscall away */
    }
    return atomic_load_explicit(&install_state, memory_order_acquire) == 2 ? 0 : -EAGAIN;
}

/* Register [addr, addr+len) (called by the map functions right after mmap). */
int dw_region_add(void *addr, uint64_t len, int prot) {
    int rc = install();
    if (rc != 0) return rc;
    uintptr_t s = (uintptr_t)addr;
    uintptr_t e = s + (uintptr_t)((len + DW_PAGE_SIZE - 1) & ~(uint64_t)(DW_PAGE_SIZE - 1));
    for (uint32_t i = 0; i < DW_MAX_MAPPINGS; i++) {
        uintptr_t zero = 0;
        if (atomic_load_explicit(&regions[i].start, memory_order_relaxed) != 0) continue;
        if (!atomic_compare_exchange_strong(&regions[i].start, &zero, s)) continue;
        atomic_store_explicit(&regions[i].faults, 0, memory_order_relaxed);
        atomic_store_explicit(&regions[i].prot, prot, memory_order_relaxed);
        atomic_store_explicit(&regions[i].end, e, memory_order_release);
        uint32_t top = atomic_load_explicit(&regions_top, memory_order_relaxed);
        while (top < i + 1 &&
               !atomic_compare_exchange_weak(&regions_top, &top, i + 1)) {
        }
        return 0;
    }
    return DW_EMAPFULL;
}

/* Unregister the mapping starting at addr (before it is unmapped). */
void dw_region_remove(void *addr) {
    uintptr_t s = (uintptr_t)addr;
    uint32_t top = atomic_load_explicit(&regions_top, memory_order_acquire);
    for (uint32_t i = 0; i < top; i++) {
        if (atomic_load_explicit(&regions[i].start, memory_order_acquire) != s) continue;
        atomic_store_explicit(&regions[i].end, 0, memory_order_release);
        atomic_store_explicit(&regions[i].start, 0, memory_order_release);
        return;
    }
}

/* See deepwater.h. */
uint64_t dw_fault_counter(void) { return (uint64_t)(uintptr_t)&fault_generation; }

uint32_t dw_fault_generation(void) {
    return atomic_load_explicit(&fault_generation, memory_order_acquire);
}

/* See deepwater.h. */
int dw_mapping_faulted(uint64_t addr) {
    uintptr_t s = (uintptr_t)addr;
    uint32_t top = atomic_load_explicit(&regions_top, memory_order_acquire);
    for (uint32_t i = 0; i < top; i++) {
        if (atomic_load_explicit(&regions[i].start, memory_order_acquire) != s) continue;
        return (int)atomic_load_explicit(&regions[i].faults, memory_order_acquire);
    }
    return -ENOENT;
}
