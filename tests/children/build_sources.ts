// deno-lint-ignore-file no-console -- a program whose output is its job
// Child: build libdeepwater from the package's bundled sources (as on a Linux machine without a
// prebuilt library), then load the result and report its ABI, or the error.
import { buildFromSources } from "../../lib/native/locate.ts";
import { SOURCES, SOURCES_SHA256 } from "../../lib/native/prebuilt/sources.ts";
try {
  buildFromSources(SOURCES, SOURCES_SHA256);
  const lib = Deno.dlopen(
    `${Deno.env.get("XDG_CACHE_HOME")}/deepwater/src-${SOURCES_SHA256}/libdeepwater.so`,
    { dw_abi_version: { parameters: [], result: "i32" } },
  );
  console.log(`built abi ${lib.symbols.dw_abi_version()}`);
  lib.close();
} catch (e) {
  const err = e as { name?: string; code?: string; message?: string };
  console.log(err.name === "DeepwaterError" ? `${err.code}: ${err.message}` : `other: ${e}`);
}
