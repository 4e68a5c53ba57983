#!/usr/bin/env node
// The inventory service as a process: serves its JWKS (the gateway fetches its public key from there),
// writes through the gateway, reports, and stops.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { toJwks } from "@fedjwt/signer";
import { serveJwks } from "./jwks-server.ts";
import { runInventoryWriter } from "./writer.ts";

const apiUrl = process.env.FEDJWT_API_URL ?? "http://127.0.0.1:54321";
// Relative to where the command was typed (pnpm sets INIT_CWD; --filter runs scripts in the package folder).
const keyFile = resolve(process.env.INIT_CWD ?? process.cwd(), process.env.INVENTORY_WRITER_KEY ?? "keys/inventory-service-local.key");
const jwkFile = keyFile.replace(/\.key$/, ".jwk.json");
let privateKeyPem: string;
let publicJwk: Record<string, unknown>;
try {
  privateKeyPem = readFileSync(keyFile, "utf8");
  publicJwk = JSON.parse(readFileSync(jwkFile, "utf8")) as Record<string, unknown>;
} catch {
  console.error(`inventory-writer: cannot read ${keyFile} and ${jwkFile} (run pnpm dev once, or set INVENTORY_WRITER_KEY)`);
  process.exit(2);
}
const jwks = await toJwks([publicJwk]);
const server = await serveJwks(() => jwks);
try {
  const outcomes = await runInventoryWriter({
    apiUrl,
    anonKey: process.env.FEDJWT_ANON_KEY ?? process.env.SUPABASE_ANON_KEY ?? "",
    audience: process.env.FEDJWT_AUDIENCE ?? apiUrl,
    issuer: process.env.INVENTORY_WRITER_ISSUER ?? "inventory-service",
    privateKeyPem,
  });
  console.log(`inventory-service (postgrest-js, JWKS at ${server.url})`);
  for (const o of outcomes) {
    const asExpected = o.ok === (o.expected === "allowed");
    console.log(`  ${asExpected ? "✓" : "✗"} ${o.action}: ${o.status} ${o.ok ? "allowed" : `denied (${o.code})`} — ${o.message}`);
  }
  process.exitCode = outcomes.every((o) => o.ok === (o.expected === "allowed")) ? 0 : 1;
} finally {
  await server.close();
}
