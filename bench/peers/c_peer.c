/*
 * The C baseline of the side-by-side benchmark (bench/peers): the same
 * operations as every other system, done directly on one memory-mapped file
 * with no store around it. It is the ceiling: what appending, searching and
 * tailing fixed-size records costs when nothing else is done.
 *
 * Store file: a 64-byte header whose first 8 bytes are the committed record
 * count (release store after each record, acquire load by readers), then the
 * records back to back. Durability: page cache.
 *
 * Usage (see bench/peers/protocol.ts):
 *   dwpeer append         <record> <n> <dataset> <dir>
 *   dwpeer query          <record> <n> <dir> <seeks file> <windows file> <max seconds>
 *   dwpeer latency-init   <record> <dir>
 *   dwpeer latency-reader <record> <dir> <messages> <warm-up>
 *   dwpeer latency-writer <record> <dir> <messages> <rate>
 * Prints one JSON line.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../c/deepwater.h"
#include "../ts_search.h"

#define HEADER 64
#define T0 1769860800000000ull
#define LAT_CAPACITY (1ull << 24)

struct shape {
    uint32_t size, ts_off, qty_off, qty_f32;
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int fail(const char *why) {
    printf("{\"ok\":false,\"reason\":\"%s\"}\n", why);
    return 0;
}

static uint8_t *map_file(const char *path, uint64_t len, int create, int *fd_out) {
    int fd = open(path, create ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR, 0644);
    if (fd < 0) return NULL;
    if (create && posix_fallocate(fd, 0, (off_t)len) != 0 && ftruncate(fd, (off_t)len) != 0) {
        close(fd);
        return NULL;
    }
    if (!create) {
        struct stat st;
        if (fstat(fd, &st) != 0) return NULL;
        len = (uint64_t)st.st_size;
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    *fd_out = fd;
    return p == MAP_FAILED ? NULL : p;
}

static uint64_t ts_at(const uint8_t *recs, uint64_t i, const struct shape *s) {
    uint64_t v;
    memcpy(&v, recs + i * s->size + s->ts_off, 8);
    return v;
}

/* The store's search (bench/ts_search.h): the baseline does the same work as
 * the store, without the store around it. */
static uint64_t lower_bound(const uint8_t *recs, uint64_t n, uint64_t t, const struct shape *s) {
    return bench_lower_bound(recs, n, s->size, s->ts_off, t);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int do_append(const struct shape *s, uint64_t n, const char *dataset, const char *dir) {
    int dfd = open(dataset, O_RDONLY);
    if (dfd < 0) return fail("cannot open dataset");
    const uint8_t *data = mmap(NULL, n * s->size, PROT_READ, MAP_SHARED | MAP_POPULATE, dfd, 0);
    if (data == MAP_FAILED) return fail("cannot map dataset");
    char path[4096];
    snprintf(path, sizeof path, "%s/store.bin", dir);
    double t0 = now_s();
    int fd;
    uint64_t len = HEADER + n * s->size;
    uint8_t *m = map_file(path, len, 1, &fd);
    if (!m) return fail("cannot create store");
    _Atomic uint64_t *count = (_Atomic uint64_t *)(void *)m;
    for (uint64_t i = 0; i < n; i++) {
        memcpy(m + HEADER + i * s->size, data + i * s->size, s->size);
        atomic_store_explicit(count, i + 1, memory_order_release);
    }
    munmap(m, len);
    close(fd);
    double secs = now_s() - t0;
    struct stat st;
    stat(path, &st);
    printf("{\"ok\":true,\"records\":%llu,\"seconds\":%.9f,\"bytes\":%llu}\n", (unsigned long long)n, secs,
           (unsigned long long)st.st_blocks * 512ull);
    return 0;
}

static uint64_t *read_u64s(const char *path, uint64_t *count) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint64_t *v = malloc((size_t)size);
    if (!v || fread(v, 1, (size_t)size, f) != (size_t)size) return NULL;
    fclose(f);
    *count = (uint64_t)size / 8;
    return v;
}

static int do_query(const struct shape *s, uint64_t n, const char *dir, const char *seeks_path,
                    const char *windows_path, double max_s) {
    char path[4096];
    snprintf(path, sizeof path, "%s/store.bin", dir);
    int fd;
    uint8_t *m = map_file(path, 0, 0, &fd);
    if (!m) return fail("cannot open store");
    const uint8_t *recs = m + HEADER;
    uint64_t ns, nw;
    uint64_t *seeks = read_u64s(seeks_path, &ns), *win = read_u64s(windows_path, &nw);
    if (!seeks || !win) return fail("cannot read query plan");
    nw /= 2;
    uint64_t seek_check = 0, k = 0;
    double t0 = now_s();
    for (; k < ns; k++) {
        uint64_t j = lower_bound(recs, n, seeks[k], s);
        if (j < n) seek_check += ts_at(recs, j, s) - T0;
        if ((k & 1023) == 1023 && now_s() - t0 > max_s) {
            k++;
            break;
        }
    }
    double seek_s = now_s() - t0;
    double window_check = 0;
    uint64_t w = 0;
    double t1 = now_s();
    for (; w < nw; w++) {
        uint64_t a = win[2 * w], b = win[2 * w + 1];
        for (uint64_t j = lower_bound(recs, n, a, s); j < n && ts_at(recs, j, s) <= b; j++) {
            const uint8_t *r = recs + j * s->size + s->qty_off;
            if (s->qty_f32) {
                float q;
                memcpy(&q, r, 4);
                window_check += q;
            } else {
                double q;
                memcpy(&q, r, 8);
                window_check += q;
            }
        }
        if (now_s() - t1 > max_s) {
            w++;
            break;
        }
    }
    double window_s = now_s() - t1;
    printf("{\"ok\":true,\"seeks\":%llu,\"seekSeconds\":%.9f,\"seekCheck\":%llu,\"windows\":%llu,"
           "\"windowSeconds\":%.9f,\"windowCheck\":%.17g}\n",
           (unsigned long long)k, seek_s, (unsigned long long)seek_check, (unsigned long long)w, window_s,
           window_check);
    return 0;
}

static uint8_t *lat_map(const struct shape *s, const char *dir, int create) {
    char path[4096];
    snprintf(path, sizeof path, "%s/latency.bin", dir);
    int fd = open(path, create ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR, 0644);
    if (fd < 0) return NULL;
    uint64_t len = HEADER + LAT_CAPACITY * s->size;
    if (create && ftruncate(fd, (off_t)len) != 0) return NULL;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

static int do_latency_reader(const struct shape *s, const char *dir, uint64_t messages, uint64_t warm) {
    uint8_t *m = lat_map(s, dir, 0);
    if (!m || messages > LAT_CAPACITY || warm >= messages) return fail("cannot open latency file");
    _Atomic uint64_t *count = (_Atomic uint64_t *)(void *)m;
    uint64_t *lat = malloc((messages - warm) * sizeof *lat), seen = 0;
    printf("ready\n");
    fflush(stdout);
    while (seen < messages) {
        uint64_t c = atomic_load_explicit(count, memory_order_acquire);
        for (; seen < c && seen < messages; seen++) {
            double sent;
            memcpy(&sent, m + HEADER + seen * s->size, 8);
            uint64_t d = now_ns() - (uint64_t)sent;
            if (seen >= warm) lat[seen - warm] = d;
        }
    }
    uint64_t n = messages - warm;
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("{\"ok\":true,\"messages\":%llu,\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu}\n",
           (unsigned long long)n, (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 99 / 100],
           (unsigned long long)lat[n * 999 / 1000], (unsigned long long)lat[n - 1]);
    return 0;
}

static int do_latency_writer(const struct shape *s, const char *dir, uint64_t messages, double rate) {
    uint8_t *m = lat_map(s, dir, 0);
    if (!m || messages > LAT_CAPACITY) return fail("cannot open latency file");
    _Atomic uint64_t *count = (_Atomic uint64_t *)(void *)m;
    uint8_t rec[64] = {0};
    usleep(500000); /* settle, as every system's writer does (SETTLE_MS) */
    double gap = 1e9 / rate;
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < messages; i++) {
        uint64_t due = start + (uint64_t)((double)i * gap);
        while (now_ns() < due) {
        }
        double sent = (double)now_ns();
        memcpy(rec, &sent, 8);
        memcpy(rec + s->ts_off, &i, 8);
        memcpy(m + HEADER + i * s->size, rec, s->size);
        atomic_store_explicit(count, i + 1, memory_order_release);
    }
    printf("{\"ok\":true,\"messages\":%llu,\"seconds\":%.9f}\n", (unsigned long long)messages,
           (double)(now_ns() - start) / 1e9);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: dwpeer <operation> <trade|quote> <args...>\n");
        return 2;
    }
    const char *op = argv[1];
    struct shape s;
    if (strcmp(argv[2], "trade") == 0) s = (struct shape){24, 16, 8, 0};
    else if (strcmp(argv[2], "quote") == 0) s = (struct shape){32, 24, 16, 1};
    else return 2;
    if (strcmp(op, "append") == 0 && argc == 6) return do_append(&s, strtoull(argv[3], 0, 10), argv[4], argv[5]);
    if (strcmp(op, "query") == 0 && argc == 8)
        return do_query(&s, strtoull(argv[3], 0, 10), argv[4], argv[5], argv[6], atof(argv[7]));
    if (strcmp(op, "latency-init") == 0 && argc == 4) {
        if (!lat_map(&s, argv[3], 1)) return fail("cannot create latency file");
        printf("{\"ok\":true}\n");
        return 0;
    }
    if (strcmp(op, "latency-reader") == 0 && argc == 6)
        return do_latency_reader(&s, argv[3], strtoull(argv[4], 0, 10), strtoull(argv[5], 0, 10));
    if (strcmp(op, "latency-writer") == 0 && argc == 6)
        return do_latency_writer(&s, argv[3], strtoull(argv[4], 0, 10), atof(argv[5]));
    fprintf(stderr, "dwpeer: bad arguments for %s\n", op);
    return 2;
}
