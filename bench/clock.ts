/**
 * What the latency benchmarks share: one CLOCK_MONOTONIC clock for every
 * process on the machine (bench_now_ns in bench/baseline.c), and the
 * percentiles they report.
 *
 * @module
 */
const clock = Deno.dlopen(
  new URL("../c/build/libdwbench.so", import.meta.url).pathname,
  // A double, not a u64: a u64 result is a BigInt (~50 ns more per reading).
  { bench_now_ns: { parameters: [], result: "f64" } } as const,
).symbols;

/** Nanoseconds on the machine-wide monotonic clock. */
export const now = (): number => clock.bench_now_ns();

/** Latency percentiles, in nanoseconds. */
export interface Stats {
  /** Median. */
  p50: number;
  /** 99th percentile. */
  p99: number;
  /** 99.9th percentile. */
  p999: number;
  /** Largest. */
  max: number;
}
