/**
 * Record views: one generated class per layout whose getters read the
 * fields of one record in place, from whatever bytes the view currently
 * points at (a mapped chunk, or a reader's copy of ring slots). A cursor
 * owns one view and moves it from record to record, so reading a field is
 * one typed-array load (a DataView load for a field the layout leaves
 * unaligned) and nothing is allocated per record.
 *
 * A view is valid only while its cursor sits on the record: once the cursor
 * moves past the end or closes, it points at nothing and every getter
 * throws `CLOSED` rather than read memory the reader may have unmapped.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { decodeExpr, H } from "./codec.ts";
import type { FieldLayout, Layout } from "./spec.ts";

/** Key of a view's record offset (symbols: a field of any name cannot shadow them). */
export const VIEW_O: unique symbol = Symbol("view.o");

/**
 * The offset of a view that points at nothing: -2^31. Every array index a
 * getter computes from it, `(offset + field offset) >>> log2(width)`, is at
 * least 2^31 / width, past the end of any run's arrays (runs are at most
 * {@linkcode MAX_RUN_BYTES}), so a typed-array getter needs no check of its
 * own: the engine's bounds check turns a stale read into `undefined` (and
 * the getter into `CLOSED`) before any memory is touched. A test checked
 * the bare getter at 2-3 ns per record less than one comparing the offset
 * first.
 */
export const VIEW_STALE = -(2 ** 31);

/** The largest run a view points into (the largest mapping, 2 GiB). */
export const MAX_RUN_BYTES = 2 ** 31;

/**
 * Typed arrays over one run's buffer, made on first use and shared by every
 * view of that buffer (a chunk keeps one for its mapping). The buffer's
 * first byte is the arrays' index 0.
 */
export interface RunArrays {
  /** The bytes. */
  readonly buffer: ArrayBuffer;
  /** The arrays made so far, by name. */
  made: Partial<Record<ArrayName, ArrayBufferView>>;
}

type ArrayName = "dv" | "u8" | "f64" | "f32" | "i32" | "u32" | "i16" | "u16" | "i64" | "u64";

const ARRAYS: Record<ArrayName, [string, number]> = {
  dv: ["DataView", 1],
  u8: ["Uint8Array", 1],
  f64: ["Float64Array", 8],
  f32: ["Float32Array", 4],
  i32: ["Int32Array", 4],
  u32: ["Uint32Array", 4],
  i16: ["Int16Array", 2],
  u16: ["Uint16Array", 2],
  i64: ["BigInt64Array", 8],
  u64: ["BigUint64Array", 8],
};

/**
 * Typed arrays over `buffer`, for one run (see {@linkcode RunArrays}).
 *
 * @param buffer the run's bytes
 * @returns an empty cache over them
 */
export function runArrays(buffer: ArrayBuffer): RunArrays {
  if (buffer.byteLength > MAX_RUN_BYTES) {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `Cannot view a run of ${buffer.byteLength} bytes: at most ${MAX_RUN_BYTES} (see VIEW_STALE)`,
    );
  }
  return { buffer, made: {} };
}

/** What a cursor moves: the record offset, and the run it points into. */
export interface ViewState {
  /** Byte offset of the record in the run's buffer, or -1: the view points at nothing. */
  [VIEW_O]: number;
}

/** A view class of one layout, with the function that points a view at a run. */
export interface ViewKind {
  /** Makes views pointing at nothing. */
  View: new () => ViewState;
  /** Point `view` at the run whose arrays are `arrays` (its offset is set separately). */
  attach(view: ViewState, arrays: RunArrays): void;
}

/** The array a field is read through, by its kind (when the layout keeps it aligned). */
function arrayFor(f: FieldLayout, recordSize: number, bigint: boolean): ArrayName | undefined {
  const pick: Partial<Record<string, ArrayName>> = {
    float64: "f64",
    float32: "f32",
    int32: "i32",
    uint32: "u32",
    int16: "i16",
    uint16: "u16",
    int64: bigint ? "i64" : undefined,
    uint64: bigint ? "u64" : "u32",
  };
  const name = pick[f.kind];
  if (!name) return undefined;
  const width = ARRAYS[name][1];
  return f.offset % width === 0 && recordSize % width === 0 ? name : undefined;
}

/**
 * A getter's body. Through a typed array the index of a stale view is out
 * of bounds (see VIEW_STALE) and reads `undefined`; through the DataView and
 * bytes (unaligned fields, bool, char, strings) the offset is checked first.
 */
function getterBody(f: FieldLayout, arr: ArrayName | undefined, bigint: boolean): string {
  if (!arr) {
    return `const o = this[O];\n    if (o < 0) S();\n    const dv = this[A.dv], u8 = this[A.u8];\n` +
      `    return ${decodeExpr(f, bigint)};`;
  }
  const width = ARRAYS[arr][1];
  const i = `(this[O] + ${f.offset}) >>> ${Math.log2(width)}`;
  if (f.kind === "uint64" && arr === "u32") {
    return `const a = this[A.u32], i = ${i};\n    const hi = a[i + 1];\n` +
      `    if (hi === undefined) S();\n` +
      `    if (hi > 0x1fffff) H.tooBig(${
        JSON.stringify(f.name)
      }, this[A.dv].getBigUint64(this[O] + ${f.offset}, true));\n` +
      `    return hi * 4294967296 + a[i];`;
  }
  return `const v = this[A.${arr}][${i}];\n    if (v === undefined) S();\n    return v;`;
}

/**
 * Generate the view class of a layout.
 *
 * @param layout the feed's record layout
 * @param feed feed name, for the stale-view message
 * @param bigint 64-bit integers as BigInt (otherwise numbers, refusing what does not fit)
 * @returns the class and its attach function
 */
export function makeViewKind(layout: Layout, feed: string, bigint: boolean): ViewKind {
  const stale = (): never => {
    throw new DeepwaterError(
      "CLOSED",
      `Record view of "${feed}" is no longer valid: its cursor moved on or closed: read fields before moving the cursor, or keep cursor.copy()`,
    );
  };
  const fields = layout.fields.filter((f) => f.kind !== "pad");
  const used = new Set<ArrayName>(["dv", "u8"]);
  const getters = fields.map((f) => {
    const arr = arrayFor(f, layout.recordSize, bigint);
    if (arr) used.add(arr);
    return `  get ${JSON.stringify(f.name)}() {\n    ${getterBody(f, arr, bigint)}\n  }`;
  });
  const names = [...used];
  // One symbol per array: a field of any name cannot shadow it.
  const A = Object.fromEntries(names.map((n) => [n, Symbol(`view.${n}`)]));
  const empty = runArrays(new ArrayBuffer(0));
  const make = (arrays: RunArrays, n: ArrayName): ArrayBufferView => {
    const [ctor, width] = ARRAYS[n];
    const C = globalThis[ctor as "Float64Array"] as unknown as new (
      b: ArrayBuffer,
      o: number,
      l: number,
    ) => ArrayBufferView;
    const len = n === "dv"
      ? arrays.buffer.byteLength
      : Math.floor(arrays.buffer.byteLength / width);
    return (arrays.made[n] = new C(arrays.buffer, 0, len));
  };
  const src = `"use strict";
class RecordView {
  constructor() {
${names.map((n) => `    this[A.${n}] = E.made.${n} ?? M(E, "${n}");`).join("\n")}
    this[O] = ${VIEW_STALE};
  }
${getters.join("\n")}
}
function attach(v, a) {
  const m = a.made;
${names.map((n) => `  v[A.${n}] = m.${n} ?? M(a, "${n}");`).join("\n")}
}
return { View: RecordView, attach };`;
  return new Function("H", "S", "A", "O", "E", "M", src)(
    H,
    stale,
    A,
    VIEW_O,
    empty,
    make,
  ) as ViewKind;
}
