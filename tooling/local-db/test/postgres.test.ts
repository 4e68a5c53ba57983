import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { startPostgres } from "../src/postgres.ts";

const fresh = () => join(mkdtempSync(join(tmpdir(), "fedjwt-pgtest-")), "pg");

async function query(url: string, sql: string): Promise<unknown[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

describe("startPostgres", () => {
  it("runs PostgreSQL 17 on loopback and removes a non-persistent cluster on stop", async () => {
    const dir = fresh();
    const db = await startPostgres({ dataDir: dir });
    expect(db.url).toMatch(/^postgresql:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(await query(db.url, "select current_setting('server_version_num')::int / 10000 as major")).toEqual([{ major: 17 }]);
    await db.stop();
    expect(existsSync(dir)).toBe(false);
  });

  it("keeps a persistent cluster and starts it again with its data", async () => {
    const dir = fresh();
    const first = await startPostgres({ dataDir: dir, persistent: true });
    await query(first.url, "create table kept (v int); insert into kept values (42)");
    await first.stop();
    expect(existsSync(join(dir, "PG_VERSION"))).toBe(true);
    const second = await startPostgres({ dataDir: dir });
    expect(await query(second.url, "select v from kept")).toEqual([{ v: 42 }]);
    await second.stop();
  });

  it("says clearly when the port is taken", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startPostgres({ dataDir: fresh(), port })).rejects.toThrow(new RegExp(`port ${port} \\(database\\) is already in use`));
    } finally {
      blocker.close();
    }
  });
});
