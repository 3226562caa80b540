// deno-lint-ignore-file no-console -- the result is printed for the parent
/**
 * Read exported files with DuckDB (`@duckdb/node-api` at the version
 * bench/peers/deno.json pins: keep the two equal) and print, per file, its column types as DuckDB sees them, the row count and per
 * column sum, min and max, every number as text (exact for 64-bit values).
 *
 * Usage: duckdb_stats.ts JOBS_JSON, where JOBS_JSON is an array of
 * `{ file, format: "parquet" | "csv" | "jsonl", columns: [{ name, kind, ts }] }`.
 *
 * @module
 */
import { DuckDBInstance } from "npm:@duckdb/node-api@1.5.6-r.1";

interface Col {
  name: string;
  kind: string;
  ts: boolean;
}
interface Job {
  file: string;
  format: "parquet" | "csv" | "jsonl";
  columns: Col[];
}

/** The type a text column is parsed as (the timestamp is integer microseconds there). */
const TEXT_TYPES: Record<string, string> = {
  int8: "TINYINT",
  int16: "SMALLINT",
  int32: "INTEGER",
  int64: "BIGINT",
  uint8: "UTINYINT",
  uint16: "USMALLINT",
  uint32: "UINTEGER",
  uint64: "UBIGINT",
  float32: "FLOAT",
  float64: "DOUBLE",
  bool: "BOOLEAN",
  char: "VARCHAR",
  string: "VARCHAR",
  bytes: "VARCHAR",
};

const q = (s: string) => `'${s.replaceAll("'", "''")}'`;
const id = (s: string) => `"${s.replaceAll('"', '""')}"`;

function source(job: Job): string {
  if (job.format === "parquet") return `read_parquet(${q(job.file)})`;
  const columns = `{${
    job.columns.map((c) => `${q(c.name)}: ${q(TEXT_TYPES[c.kind]!)}`).join(", ")
  }}`;
  if (job.format === "csv") {
    // An empty string is a value here, never NULL: no cell is ever the null string.
    return `read_csv(${
      q(job.file)
    }, header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', nullstr = '\\N-none', columns = ${columns})`;
  }
  return `read_json(${q(job.file)}, format = 'newline_delimited', columns = ${columns})`;
}

/** Sum, min and max of one column as VARCHAR expressions, on a comparable scale. */
function stats(job: Job, c: Col): string[] {
  let v = id(c.name);
  if (job.format === "parquet" && c.ts) v = `epoch_us(${v})`;
  else if (job.format === "parquet" && c.kind === "bytes") v = `lower(hex(${v}))`;
  if (c.kind === "bool") v = `${v}::INTEGER`;
  if (c.kind === "float32") v = `${v}::DOUBLE`;
  const text = c.kind === "char" || c.kind === "string" || c.kind === "bytes";
  const sum = text ? `sum(strlen(${v}))` : `sum(${v})`;
  return [sum, `min(${v})`, `max(${v})`].map((e) => `(${e})::VARCHAR`);
}

const jobs = JSON.parse(Deno.args[0]!) as Job[];
const db = await DuckDBInstance.create(":memory:");
const conn = await db.connect();
const results = [];
for (const job of jobs) {
  const types = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source(job)}`)).getRows()
    .map((r) => [String(r[0]), String(r[1])]);
  const exprs = ["count(*)::VARCHAR", ...job.columns.flatMap((c) => stats(job, c))];
  const row = (await conn.runAndReadAll(`SELECT ${exprs.join(", ")} FROM ${source(job)}`))
    .getRows()[0]!.map((v) => (v === null ? null : String(v)));
  const columns: Record<string, { sum: string | null; min: string | null; max: string | null }> =
    {};
  job.columns.forEach((c, i) => {
    columns[c.name] = { sum: row[1 + 3 * i]!, min: row[2 + 3 * i]!, max: row[3 + 3 * i]! };
  });
  results.push({ file: job.file, types: Object.fromEntries(types), count: row[0], columns });
}
conn.closeSync();
db.closeSync();
console.log(JSON.stringify(results));
