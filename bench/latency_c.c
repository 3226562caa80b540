/*
 * C baseline for cross-process latency: a writer process stamps a message
 * into shared memory and publishes a sequence number with a release store; a
 * reader process spins on the sequence with acquire loads and records
 * now - stamp. Same pacing and message count as bench/latency.ts.
 * Prints one JSON line: {"p50":..,"p99":..,"p999":..,"max":..} in ns.
 * Usage: dwlatency <messages> <interval_ns> <warmup>
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

struct shared {
    _Alignas(64) _Atomic uint64_t seq;
    _Alignas(64) uint64_t stamp[1 << 20];
};

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    uint64_t n = strtoull(argv[1], 0, 10), gap = strtoull(argv[2], 0, 10), warm = strtoull(argv[3], 0, 10);
    if (n + warm > (1u << 20)) return 2;
    struct shared *s = mmap(0, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t *lat = malloc(n * sizeof *lat), seen = 0;
        while (seen < n + warm) {
            uint64_t q = atomic_load_explicit(&s->seq, memory_order_acquire);
            while (seen < q) {
                uint64_t d = now_ns() - s->stamp[seen];
                if (seen >= warm) lat[seen - warm] = d;
                seen++;
            }
        }
        qsort(lat, n, sizeof *lat, cmp);
        printf("{\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu}\n", (unsigned long long)lat[n / 2],
               (unsigned long long)lat[n * 99 / 100], (unsigned long long)lat[n * 999 / 1000],
               (unsigned long long)lat[n - 1]);
        return 0;
    }
    usleep(100000);
    uint64_t next = now_ns();
    for (uint64_t i = 0; i < n + warm; i++) {
        next += gap;
        while (now_ns() < next) {
        }
        s->stamp[i] = now_ns();
        atomic_store_explicit(&s->seq, i + 1, memory_order_release);
    }
    int st;
    waitpid(pid, &st, 0);
    return 0;
}
