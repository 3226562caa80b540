// deno-lint-ignore-file no-console -- a program whose output is its job
// Child: load libdeepwater through the given copy of lib/native/binding.ts and report the outcome.
// (The copy has its own DeepwaterError class, so match on name and code.)
const [ffiModule] = Deno.args as [string];
const { native } = await import(ffiModule);
try {
  native();
  console.log("loaded");
} catch (e) {
  const err = e as { name?: string; code?: string; message?: string };
  console.log(err.name === "DeepwaterError" ? `${err.code}: ${err.message}` : `other: ${e}`);
}
