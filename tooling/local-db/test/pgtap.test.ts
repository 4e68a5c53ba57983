// Runs supabase/tests/*.sql (the pgTAP files `supabase test db` runs for Docker users) on the
// Docker-free database. pgTAP comes from Debian's package (pure SQL); .ci/run fetches it.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../src/paths.ts";
import { findPgtapSql, loadPgtap, runPgtapFile } from "../src/pgtap.ts";
import { useSupabaseDb } from "../src/testing.ts";

const pgtap = findPgtapSql();
const files = readdirSync(join(repoRoot(), "supabase", "tests"))
  .filter((f) => f.endsWith(".sql"))
  .sort();

describe("supabase/tests (pgTAP)", () => {
  it("pgTAP is available (required in CI; .ci/run fetches Debian's package)", () => {
    if (!pgtap && !process.env.CI) {
      console.warn("pgTAP not found: set FEDJWT_PGTAP_SQL or install Debian's postgresql-15-pgtap to run supabase/tests here");
      return;
    }
    expect(pgtap).toBeDefined();
  });

  const { db } = useSupabaseDb({ hostedLayout: true });
  it.skipIf(!pgtap).each(files)("%s passes every planned assertion", async (file) => {
    const client = new pg.Client({ connectionString: db().url });
    await client.connect();
    try {
      await loadPgtap(client, pgtap!);
      const result = await runPgtapFile(client, join(repoRoot(), "supabase", "tests", file));
      expect(result.failed, result.lines.filter((l) => l.startsWith("#")).join("\n")).toEqual([]);
      expect(result.planned).toBeGreaterThan(0);
      expect(result.passed).toHaveLength(result.planned);
    } finally {
      await client.end();
    }
  });
});
