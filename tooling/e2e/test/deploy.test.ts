// "Deploys with no edits", as a test: the real Supabase CLI lists the files `functions deploy rest --use-api`
// would upload (run offline); exactly those files, copied into an empty folder, must type-check with Deno and
// serve a request there. A file the function imports but the bundle would leave out fails this test.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { denoBinary, denoEnv, listDeployAssets, serveDeno, type DenoServer } from "@fedjwt/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

describe("supabase functions deploy rest", () => {
  let assets: string[];
  let dir: string;
  let fn: DenoServer | undefined;

  beforeAll(async () => {
    assets = await listDeployAssets(root, "rest");
    dir = mkdtempSync(join(tmpdir(), "fedjwt-deploy-"));
    for (const asset of assets) {
      mkdirSync(join(dir, dirname(asset)), { recursive: true });
      cpSync(join(root, asset), join(dir, asset));
    }
  }, 90_000);

  afterAll(async () => {
    await fn?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("uploads the function, its deno.json and the proxy and signer sources it imports, nothing from tooling", () => {
    expect(assets).toEqual(
      expect.arrayContaining([
        "supabase/functions/rest/index.ts",
        "supabase/functions/rest/deno.json",
        "packages/proxy/src/handler.ts",
        "packages/signer/src/index.ts",
      ]),
    );
    expect(assets.filter((a) => !/^(supabase\/functions\/rest|packages\/(proxy|signer)\/src)\//.test(a))).toEqual([]);
    expect(assets.filter((a) => /test|testing/.test(a))).toEqual([]);
  });

  it("type-checks from exactly the uploaded files", () => {
    const fnDir = join(dir, "supabase/functions/rest");
    const r = spawnSync(denoBinary(), ["check", "--quiet", "--config", join(fnDir, "deno.json"), join(fnDir, "index.ts")], {
      encoding: "utf8",
      env: denoEnv(),
      cwd: dir,
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  }, 120_000);

  it("serves a request from exactly the uploaded files", async () => {
    const fnDir = join(dir, "supabase/functions/rest");
    fn = await serveDeno({
      entrypoint: join(fnDir, "index.ts"),
      config: join(fnDir, "deno.json"),
      cwd: dir,
      allowNet: "127.0.0.1",
      env: {
        SUPABASE_URL: "http://127.0.0.1:9",
        SUPABASE_SECRET_KEYS: JSON.stringify({ default: "sb_secret_deploy_test" }),
        SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: "sb_publishable_deploy_test" }),
        FEDJWT_AUDIENCE: "https://deploy.test",
        FEDJWT_LEGACY_JWT_SECRET: "a-legacy-jwt-secret-of-at-least-32-characters",
      },
    });
    const res = await fetch(`${fn.url}/rest/widgets`);
    const body = (await res.json()) as { code: string };
    expect({ status: res.status, code: body.code }).toEqual({ status: 401, code: "token_missing" });
  }, 120_000);
});
