#!/usr/bin/env node
// The orders service as a process: reads its configuration from the environment, writes, reports.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { formatOutcomes } from "./report.ts";
import { runOrdersWriter } from "./writer.ts";

const apiUrl = process.env.FEDJWT_API_URL ?? "http://127.0.0.1:54321";
// Relative to where the command was typed (pnpm sets INIT_CWD; --filter runs scripts in the package folder).
const keyFile = resolve(process.env.INIT_CWD ?? process.cwd(), process.env.ORDERS_WRITER_KEY ?? "keys/orders-service-local.key");
let privateKeyPem: string;
try {
  privateKeyPem = readFileSync(keyFile, "utf8");
} catch {
  console.error(`orders-writer: cannot read ${keyFile} (run pnpm dev once, or set ORDERS_WRITER_KEY)`);
  process.exit(2);
}
const outcomes = await runOrdersWriter({
  apiUrl,
  anonKey: process.env.FEDJWT_ANON_KEY ?? process.env.SUPABASE_ANON_KEY ?? "",
  audience: process.env.FEDJWT_AUDIENCE ?? apiUrl,
  issuer: process.env.ORDERS_WRITER_ISSUER ?? "orders-service",
  privateKeyPem,
});
console.log(formatOutcomes("orders-service (supabase-js)", outcomes));
process.exitCode = outcomes.every((o) => o.ok === (o.expected === "allowed")) ? 0 : 1;
