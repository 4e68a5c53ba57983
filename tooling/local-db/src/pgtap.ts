import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";

/**
 * Finds pgTAP's install script (pure SQL, so any packaged version loads into PostgreSQL 17):
 * $FEDJWT_PGTAP_SQL, else Debian's /usr/share/postgresql/<n>/extension/pgtap--<version>.sql.
 */
export function findPgtapSql(): string | undefined {
  const fromEnv = process.env.FEDJWT_PGTAP_SQL;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  const root = "/usr/share/postgresql";
  if (!existsSync(root)) return undefined;
  for (const major of readdirSync(root).sort().reverse()) {
    const dir = join(root, major, "extension");
    if (!existsSync(dir)) continue;
    const file = readdirSync(dir).find((f) => /^pgtap--\d+\.\d+\.\d+\.sql$/.test(f));
    if (file) return join(dir, file);
  }
  return undefined;
}

/**
 * Loads pgTAP's functions into the `extensions` schema (what `create extension pgtap with schema extensions`
 * does), once per database: a second call (the next test file) finds them there and does nothing.
 */
export async function loadPgtap(client: pg.ClientBase, sqlFile: string): Promise<void> {
  const loaded = await client.query("select to_regprocedure('extensions.plan(integer)') is not null as loaded");
  if (loaded.rows[0]?.loaded) return;
  const sql = await readFile(sqlFile, "utf8");
  await client.query("set search_path = extensions");
  try {
    await client.query(sql);
  } finally {
    await client.query("reset search_path");
  }
}

/** The TAP result of one test file. */
export interface TapResult {
  planned: number;
  passed: string[];
  failed: string[];
  lines: string[];
}

/**
 * Runs a `supabase/tests` file the way pg_prove does, on a database where pgTAP's functions were loaded
 * without the extension: the file's own `create extension … pgtap …` line is dropped, everything else runs.
 */
export async function runPgtapFile(client: pg.ClientBase, file: string): Promise<TapResult> {
  const text = (await readFile(file, "utf8")).replace(/^create extension if not exists pgtap\b.*;$/im, "");
  await client.query("set search_path = public, extensions");
  const results = await client.query(text);
  const lines = (Array.isArray(results) ? results : [results])
    .flatMap((r) => r.rows.flatMap((row: Record<string, unknown>) => Object.values(row).filter((v): v is string => typeof v === "string")))
    .flatMap((v) => v.split("\n"));
  const planLine = lines.find((l) => /^1\.\.\d+$/.test(l));
  return {
    planned: planLine ? Number(planLine.slice(3)) : 0,
    passed: lines.filter((l) => /^ok \d+/.test(l)),
    failed: lines.filter((l) => /^not ok \d+/.test(l)),
    lines,
  };
}
