/* Record scans: strided timestamp scans, CRC32C, bulk copy, column gather. */
#include "deepwater.h"

#include <string.h>

#if defined(__x86_64__)
#include <emmintrin.h>
#define DW_HAVE_STREAM 1
/* Batches (dw_copy_scan) and 8-byte columns (dw_gather) at least this large
 * are written with non-temporal stores: they do not fit the cache anyway, and
 * streaming skips the read-for-ownership of every destination line. Smaller
 * ones use ordinary stores so the data stays cached for whoever reads next. */
#define DW_STREAM_MIN_BYTES (2u << 20)
#endif

static inline uint64_t ts_at(const uint8_t *base, uint64_t i, uint32_t stride, uint32_t off) {
    uint64_t v;
    memcpy(&v, base + i * stride + off, sizeof v); /* unaligned-safe, little-endian host */
    return v;
}

/* Full statistics pass (min, max, big) for records known to be unsorted. */
static void scan_full(const uint8_t *b, uint64_t count, uint32_t stride, uint32_t off, uint64_t *out) {
    uint64_t mn = UINT64_MAX, mx = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t t = ts_at(b, i, stride, off);
        mn = t < mn ? t : mn;
        mx = t > mx ? t : mx;
    }
    out[0] = mn;
    out[1] = mx;
    out[5] = mx > 9007199254740991ull;
}

/* Order check over [from, to): returns 1 while non-decreasing from *prev.
 * Sorted data (the common case) needs nothing more: min = first, max = last. */
static uint64_t scan_order(const uint8_t *b, uint64_t from, uint64_t to, uint32_t stride, uint32_t off,
                           uint64_t *prev) {
    uint64_t p = *prev, bad = 0;
    for (uint64_t i = from; i < to; i++) {
        uint64_t t = ts_at(b, i, stride, off);
        bad |= t < p;
        p = t;
    }
    *prev = p;
    return bad == 0;
}

static void finish_scan(const uint8_t *b, uint64_t count, uint32_t stride, uint32_t off, uint64_t sorted,
                        uint64_t *out) {
    out[2] = ts_at(b, 0, stride, off);
    out[3] = ts_at(b, count - 1, stride, off);
    out[4] = sorted;
    if (sorted) {
        out[0] = out[2];
        out[1] = out[3];
        out[5] = out[3] > 9007199254740991ull;
    } else {
        scan_full(b, count, stride, off, out);
    }
}

/* See deepwater.h. */
int dw_scan_ts(uint64_t base, uint64_t count, uint32_t stride, uint32_t ts_offset, uint64_t *out) {
    if (!out || stride == 0 || (uint64_t)ts_offset + 8 > stride || (base == 0 && count)) return DW_EINVAL;
    for (int i = 0; i < 6; i++) out[i] = 0;
    if (count == 0) return 0;
    const uint8_t *b = (const uint8_t *)(uintptr_t)base;
    uint64_t prev = 0;
    finish_scan(b, count, stride, ts_offset, scan_order(b, 0, count, stride, ts_offset, &prev), out);
    return 0;
}

#ifdef DW_HAVE_STREAM
/* Large batches of records of W 8-byte words (stride 8..64) with an 8-byte-
 * aligned timestamp, into an 8-byte-aligned dst. Each record is loaded once
 * into registers, written with non-temporal stores (no read-for-ownership of
 * the destination, as glibc's memcpy does for large copies), and its
 * timestamp taken from the same registers, so the scan sees exactly the bytes
 * written even if the source changes meanwhile. One function per W lets the
 * compiler unroll the record completely. The closing sfence orders the
 * streamed stores before the caller's release store of the committed count. */
#define DW_COPY_SCAN_STREAM(W)                                                                     \
    static void copy_scan_stream_##W(uint8_t *d, const uint8_t *s, uint64_t count, uint64_t tw,    \
                                     uint64_t *out) {                                              \
        uint64_t prev = 0, bad = 0, mn = UINT64_MAX, mx = 0, ts = 0;                               \
        for (uint64_t r = 0; r < count; r++) {                                                     \
            uint64_t rec[W];                                                                       \
            memcpy(rec, s + r * (W * 8), W * 8);                                                   \
            long long *o = (long long *)(void *)(d + r * (W * 8));                                 \
            for (int k = 0; k < W; k++) _mm_stream_si64(o + k, (long long)rec[k]);                 \
            ts = rec[tw];                                                                          \
            bad |= ts < prev;                                                                      \
            prev = ts;                                                                             \
            mn = ts < mn ? ts : mn;                                                                \
            mx = ts > mx ? ts : mx;                                                                \
        }                                                                                          \
        _mm_sfence();                                                                              \
        uint64_t first;                                                                            \
        memcpy(&first, d + tw * 8, 8);                                                             \
        out[0] = mn, out[1] = mx, out[2] = first, out[3] = ts;                                     \
        out[4] = bad == 0, out[5] = mx > 9007199254740991ull;                                      \
    }
DW_COPY_SCAN_STREAM(1)
DW_COPY_SCAN_STREAM(2)
DW_COPY_SCAN_STREAM(3)
DW_COPY_SCAN_STREAM(4)
DW_COPY_SCAN_STREAM(5)
DW_COPY_SCAN_STREAM(6)
DW_COPY_SCAN_STREAM(7)
DW_COPY_SCAN_STREAM(8)
#undef DW_COPY_SCAN_STREAM

/* Dispatch to the streaming copy; returns 0 when the shape does not fit it. */
static int copy_scan_stream(uint8_t *d, const uint8_t *s, uint64_t count, uint32_t stride,
                            uint32_t off, uint64_t *out) {
    if (count * stride < DW_STREAM_MIN_BYTES || stride % 8 || off % 8 || ((uintptr_t)d & 7u)) {
        return 0;
    }
    const uint64_t tw = off / 8;
    switch (stride / 8) {
    case 1: copy_scan_stream_1(d, s, count, tw, out); return 1;
    case 2: copy_scan_stream_2(d, s, count, tw, out); return 1;
    case 3: copy_scan_stream_3(d, s, count, tw, out); return 1;
    case 4: copy_scan_stream_4(d, s, count, tw, out); return 1;
    case 5: copy_scan_stream_5(d, s, count, tw, out); return 1;
    case 6: copy_scan_stream_6(d, s, count, tw, out); return 1;
    case 7: copy_scan_stream_7(d, s, count, tw, out); return 1;
    case 8: copy_scan_stream_8(d, s, count, tw, out); return 1;
    default: return 0;
    }
}
#endif

/* See deepwater.h. Small batches: copies in 64 KiB blocks and scans each
 * block from the destination while it is still in cache (one pass over
 * memory, not two). Large 8-byte-aligned batches stream (see above). */
int dw_copy_scan(uint64_t dst, uint64_t src, uint64_t count, uint32_t stride, uint32_t ts_offset,
                 uint64_t *out) {
    if (!out || stride == 0 || (uint64_t)ts_offset + 8 > stride || ((dst == 0 || src == 0) && count)) return DW_EINVAL;
    for (int i = 0; i < 6; i++) out[i] = 0;
    if (count == 0) return 0;
    uint8_t *d = (uint8_t *)(uintptr_t)dst;
    const uint8_t *s = (const uint8_t *)(uintptr_t)src;
#ifdef DW_HAVE_STREAM
    if (copy_scan_stream(d, s, count, stride, ts_offset, out)) return 0;
#endif
    uint64_t per = (65536u / stride) ? (65536u / stride) : 1;
    uint64_t prev = 0, sorted = 1;
    for (uint64_t i = 0; i < count; i += per) {
        uint64_t k = count - i < per ? count - i : per;
        memcpy(d + i * stride, s + i * stride, (size_t)(k * stride));
        sorted &= scan_order(d, i, i + k, stride, ts_offset, &prev);
    }
    finish_scan(d, count, stride, ts_offset, sorted, out);
    return 0;
}

/* CRC32C, slicing-by-1 table generated on the stack-free static table below. */
static uint32_t crc_table_entry(uint32_t i) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    return c;
}

/* The table is a pure function of its index, so a const table computed at
 * build time would be equivalent; computing per call keeps the library free
 * of mutable global state and costs ~2 µs, negligible for metadata-sized
 * inputs (catalog entries, registry entries) which is all CRC32C guards. */
int dw_crc32c(const uint8_t *buf, uint64_t len, uint32_t seed, uint32_t *out) {
    if (!out || (!buf && len)) return DW_EINVAL;
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) table[i] = crc_table_entry(i);
    uint32_t c = ~seed;
    for (uint64_t i = 0; i < len; i++) c = table[(c ^ buf[i]) & 0xFFu] ^ (c >> 8);
    out[0] = ~c;
    return 0;
}

/* See deepwater.h. */
int dw_copy(uint64_t dst, uint64_t src, uint64_t len) {
    if ((dst == 0 || src == 0) && len) return DW_EINVAL;
    memcpy((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, (size_t)len);
    return 0;
}

/* One fixed width per loop: memcpy of a constant size compiles to a single
 * load and store, so the loop runs at the speed of the strided reads. */
#define DW_GATHER_LOOP(W)                                        \
    for (uint64_t i = 0; i < count; i++) memcpy(d + i * (W), s + i * stride, (W))

int dw_gather(uint64_t dst, uint64_t src, uint64_t count, uint32_t stride, uint32_t offset,
              uint32_t width) {
    if (stride == 0 || width == 0 || (uint64_t)offset + width > stride ||
        ((dst == 0 || src == 0) && count)) return DW_EINVAL;
    uint8_t *d = (uint8_t *)(uintptr_t)dst;
    const uint8_t *s = (const uint8_t *)(uintptr_t)src + offset;
#ifdef DW_HAVE_STREAM
    /* A large 8-byte column is written with non-temporal stores, as large
     * batches are copied: no read-for-ownership of each destination line
     * (~10-15% of the gather), and the caller's pass over the column is no
     * slower for it. */
    if (width == 8 && count * 8 >= DW_STREAM_MIN_BYTES && ((uintptr_t)d & 7u) == 0) {
        long long *o = (long long *)(void *)d;
        for (uint64_t i = 0; i < count; i++) {
            long long v;
            memcpy(&v, s + i * stride, 8);
            _mm_stream_si64(o + i, v);
        }
        _mm_sfence();
        return 0;
    }
#endif
    switch (width) {
    case 8: DW_GATHER_LOOP(8); break;
    case 4: DW_GATHER_LOOP(4); break;
    case 2: DW_GATHER_LOOP(2); break;
    case 1: DW_GATHER_LOOP(1); break;
    default:
        for (uint64_t i = 0; i < count; i++) memcpy(d + i * width, s + i * stride, width);
    }
    return 0;
}
#undef DW_GATHER_LOOP
