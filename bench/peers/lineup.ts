/**
 * The systems of the side-by-side benchmark: how each is labelled, what
 * durability it runs with, and which workloads it takes part in.
 *
 * @module
 */

/** What each system runs: its label, durability, and which workloads apply. */
export const SYSTEMS = {
  c: {
    label: "C baseline (raw mmap)",
    durability: "page cache",
    workloads: ["append", "query", "latency"],
  },
  deepwater: {
    label: "Deepwater chunk feed",
    durability: "page cache",
    workloads: ["append", "query", "latency"],
  },
  "deepwater-batch": {
    label: "Deepwater chunk feed, writeBatch",
    durability: "page cache",
    workloads: ["append"],
  },
  "deepwater-block": {
    label: "Deepwater chunk feed, futex wait",
    durability: "page cache",
    workloads: ["latency"],
  },
  "deepwater-view": {
    label: "Deepwater chunk feed, zero-copy (cursor, tail; appends with writeBatch)",
    durability: "page cache",
    workloads: ["append", "query", "latency"],
  },
  "deepwater-ring": {
    label: "Deepwater ring feed",
    durability: "memory (shm)",
    workloads: ["append", "query", "latency"],
  },
  chronicle: {
    label: "Chronicle Queue 3.6",
    durability: "page cache",
    workloads: ["append", "query", "latency"],
  },
  lmdb: {
    label: "LMDB (lmdb-js)",
    durability: "page cache (noSync)",
    workloads: ["append", "query", "latency"],
  },
  sqlite: {
    label: "SQLite (node:sqlite)",
    durability: "page cache (WAL, sync off)",
    workloads: ["append", "query", "latency"],
  },
  duckdb: {
    label: "DuckDB (node-api)",
    durability: "WAL, checkpoint on close",
    workloads: ["append", "query", "latency"],
  },
} as const;
/** A system's key. */
export type SystemName = keyof typeof SYSTEMS;
