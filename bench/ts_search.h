/*
 * The C baselines' timestamp search (bench/baseline.c, bench/peers/c_peer.c):
 * the algorithm the chunk reader runs in TypeScript (lib/chunks/search.ts),
 * interpolation probes each followed by a gallop that brackets the answer,
 * then binary search,
 * so a baseline does the store's search without the store around it.
 */
#ifndef DW_BENCH_TS_SEARCH_H
#define DW_BENCH_TS_SEARCH_H

#include <stdint.h>
#include <string.h>

static inline uint64_t bench_ts_at(const uint8_t *b, uint64_t i, uint32_t stride, uint32_t off) {
    uint64_t v;
    memcpy(&v, b + i * stride + off, 8);
    return v;
}

/* First index in 0..n whose uint64 timestamp (at `off` of each `stride`-byte
 * record, sorted ascending) is >= target. */
static inline uint64_t bench_lower_bound(const uint8_t *b, uint64_t n, uint32_t stride, uint32_t off,
                                         uint64_t target) {
    uint64_t lo = 0, hi = n;
    for (int probes = 0; probes < 4 && hi - lo > 32; probes++) {
        const uint64_t first = bench_ts_at(b, lo, stride, off), last = bench_ts_at(b, hi - 1, stride, off);
        if (first >= target) { hi = lo; break; }
        if (last < target) { lo = hi; break; }
        const double frac = (double)(target - first) / (double)(last - first);
        uint64_t mid = lo + 1 + (uint64_t)(frac * (double)(hi - lo - 2));
        if (mid >= hi - 1) mid = hi - 2;
        /* Probe, then gallop away from the probe until the answer is bracketed. */
        if (bench_ts_at(b, mid, stride, off) < target) {
            lo = mid + 1;
            for (uint64_t step = 1; lo + step - 1 < hi; step *= 2) {
                const uint64_t j = lo + step - 1;
                if (bench_ts_at(b, j, stride, off) >= target) { hi = j; break; }
                lo = j + 1;
            }
        } else {
            hi = mid;
            for (uint64_t step = 1; hi >= lo + step; step *= 2) {
                const uint64_t j = hi - step;
                if (bench_ts_at(b, j, stride, off) < target) { lo = j + 1; break; }
                hi = j;
            }
        }
    }
    uint64_t len = hi - lo;
    while (len > 0) {
        const uint64_t half = len / 2;
        if (bench_ts_at(b, lo + half, stride, off) < target) { lo += half + 1; len -= half + 1; }
        else len = half;
    }
    return lo;
}

#endif
