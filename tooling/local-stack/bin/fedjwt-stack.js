#!/usr/bin/env node
// The `fedjwt-stack` command (the Docker-free local stack). A committed launcher, so that pnpm links the bin on a fresh clone before anything is
// built; the CLI itself is dist/cli.js (`pnpm install` builds it).
import("../dist/cli.js").catch((e) => {
  if (e?.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("dist/cli.js")) throw e;
  console.error("fedjwt-stack is not built yet: run `pnpm build` (pnpm install does it) and try again.");
  process.exit(2);
});
