#!/usr/bin/env node
// Refuses, in one line, a Node.js older than the project needs (22.18: TypeScript type stripping on by
// default, which `pnpm dev` relies on). Runs before `pnpm dev` (`pnpm install` refuses by itself: engineStrict); written for any old Node.
var need = [22, 18];
var have = process.versions.node.split(".").map(Number);
if (have[0] < need[0] || (have[0] === need[0] && have[1] < need[1])) {
  console.error(
    "This project needs Node.js " +
      need.join(".") +
      " or newer (this is " +
      process.version +
      "): install Node 24 LTS from https://nodejs.org or with `nvm install 24`, then run the command again.",
  );
  process.exit(1);
}
