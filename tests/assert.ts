/**
 * Minimal std-style assertions on top of `node:assert` (JSR's @std/assert is
 * not reachable from every build machine), plus `assertCode` for
 * DeepwaterError codes.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";
import { DeepwaterError, type DeepwaterErrorCode } from "../mod.ts";

/** Assert a condition. */
export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Assert that `fn` throws an instance of `cls`; returns the error. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  cls: new (...a: never[]) => E = Error as never,
): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof cls) return e;
    throw new Error(`expected ${cls.name}, got ${e}`);
  }
  throw new Error(`expected ${cls.name} to be thrown`);
}

/** Assert that `fn` throws a DeepwaterError with `code`; returns it. */
export function assertCode(
  fn: () => unknown,
  code: DeepwaterErrorCode,
  includes?: string,
): DeepwaterError {
  const e = assertThrows(fn, DeepwaterError);
  assertEquals(e.code, code, `wrong code: ${e.message}`);
  if (includes !== undefined) {
    assert(e.message.includes(includes), `"${e.message}" lacks "${includes}"`);
  }
  return e;
}

/** Assert that the promise `fn` returns rejects with an instance of `cls` (naming `includes`); returns the error. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: new (...a: never[]) => E = Error as never,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${e}`);
    if (includes !== undefined) {
      assert(e.message.includes(includes), `"${e.message}" lacks "${includes}"`);
    }
    return e;
  }
  throw new Error(`expected ${cls.name} to be thrown`);
}
