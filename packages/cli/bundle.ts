// Builds dist/fedjwt.mjs: the whole CLI (with @fedjwt/signer and jose) in one file that runs with plain
// `node fedjwt.mjs …` anywhere, outside this repository included. Run by `pnpm build` after tsc.
import { build } from "esbuild";

await build({
  entryPoints: [new URL("./src/bin.ts", import.meta.url).pathname],
  outfile: new URL("./dist/fedjwt.mjs", import.meta.url).pathname,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  legalComments: "inline",
  logLevel: "warning",
});
