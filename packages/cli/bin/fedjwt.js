#!/usr/bin/env node
// The `fedjwt` command. A committed launcher, so that pnpm links the bin on a fresh clone before anything is
// built; the CLI itself is dist/bin.js (`pnpm install` builds it).
import("../dist/bin.js").catch((e) => {
  if (e?.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("dist/bin.js")) throw e;
  console.error("fedjwt is not built yet: run `pnpm build` (pnpm install does it) and try again.");
  process.exit(2);
});
