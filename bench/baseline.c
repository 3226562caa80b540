#define _POSIX_C_SOURCE 200809L
/*
 * C baselines for the benchmarks: the same work Deepwater's TypeScript does,
 * written directly against a mapping, so a benchmark can show binding cost
 * and store cost separately. Built into c/build/libdwbench.so by
 * `deno task build --bench`; never part of libdeepwater.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "../c/deepwater.h"
#include "ts_search.h"

/* Append n 24-byte trade records (price, size, ts) at addr, publishing a
 * 64-bit committed count with a release store after each one. */
int bench_write(uint64_t addr, uint64_t n, uint64_t count_addr) {
    uint8_t *p = (uint8_t *)(uintptr_t)addr;
    _Atomic uint64_t *count = (_Atomic uint64_t *)(uintptr_t)count_addr;
    for (uint64_t i = 0; i < n; i++) {
        double price = 100.0 + (double)(i % 100), size = 1.0;
        uint64_t ts = 1700000000000000ull + i;
        memcpy(p + i * 24, &price, 8);
        memcpy(p + i * 24 + 8, &size, 8);
        memcpy(p + i * 24 + 16, &ts, 8);
        atomic_store_explicit(count, i + 1, memory_order_release);
    }
    return 0;
}

/* Read n records, summing price and size (what read() + a consumer does). */
int bench_read(uint64_t addr, uint64_t n, double *out) {
    const uint8_t *p = (const uint8_t *)(uintptr_t)addr;
    double s = 0;
    for (uint64_t i = 0; i < n; i++) {
        double price, size;
        uint64_t ts;
        memcpy(&price, p + i * 24, 8);
        memcpy(&size, p + i * 24 + 8, 8);
        memcpy(&ts, p + i * 24 + 16, 8);
        s += price * size + (double)(ts & 1);
    }
    out[0] = s;
    return 0;
}

/* m lower-bound searches over n records for the given targets. */
int bench_seek(uint64_t addr, uint64_t n, const uint64_t *targets, uint64_t m, uint64_t *out) {
    const uint8_t *b = (const uint8_t *)(uintptr_t)addr;
    uint64_t acc = 0;
    for (uint64_t k = 0; k < m; k++) acc += bench_lower_bound(b, n, 24, 16, targets[k]);
    out[0] = acc;
    return 0;
}

/* CLOCK_MONOTONIC in nanoseconds: one clock shared by every process on the
 * machine, for one-way latency between a writer and a reader process. A
 * double (exact up to 2^53 ns, 104 days of uptime, then to within a few ns):
 * Deno returns a u64 result as a BigInt, whose
 * allocation and conversion cost ~50 ns per reading (measured), time that
 * landed inside every Deno sample of one-way latency. */
double bench_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Strided sum of one float64 field of n records (what a column gather plus a
 * sum does, in one pass). */
int bench_sum_field(uint64_t addr, uint64_t n, uint32_t stride, uint32_t offset, double *out) {
    const uint8_t *p = (const uint8_t *)(uintptr_t)addr + offset;
    double s = 0;
    for (uint64_t i = 0; i < n; i++) {
        double v;
        memcpy(&v, p + i * stride, 8);
        s += v;
    }
    out[0] = s;
    return 0;
}

/* Sum of price x size over n 24-byte trade records (a zero-copy visit's work). */
int bench_sum_notional(uint64_t addr, uint64_t n, double *out) {
    const uint8_t *p = (const uint8_t *)(uintptr_t)addr;
    double s = 0;
    for (uint64_t i = 0; i < n; i++) {
        double price, size;
        memcpy(&price, p + i * 24, 8);
        memcpy(&size, p + i * 24 + 8, 8);
        s += price * size;
    }
    out[0] = s;
    return 0;
}
