// Every fedjwt command the README and docs/*.md print in a shell block runs as printed against a stack: a newcomer
// copies them, so none may need a variable the doc never sets or a flag it leaves out. Per document, its blocks' lines
// that run fedjwt (`fedjwt …`, `pnpm fedjwt …`, `X=$(fedjwt …)`) and the `export` lines the doc gives run in order
// in one bash script (set -e), in a fresh folder. The doc's placeholders for what only the reader knows are filled
// from one table below (a hosted project's URL becomes this stack's; `--local` finds it through FEDJWT_STACK_STATE);
// a placeholder the table does not know fails the test, so a doc cannot print a command nobody can run.
// `pnpm dev`'s own printed commands are run by dev.test.ts; docs/python-writer.md, a script of its own, by
// python-writer.test.ts.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, repoRoot } from "@fedjwt/local-stack";
import { beforeAll, describe, expect, it } from "vitest";
import { fedjwtLines, fill, runScript } from "./doc-script.ts";
import { fedjwt, keyDir, keygen, register, serviceRead, type Target, useTarget } from "./target.ts";

const root = repoRoot();
const target = useTarget();

let oldKid: string;
let placeholders: Array<[string, string]>;
let stateFile: string;

beforeAll(async () => {
  const t = target();
  // What the docs take as already there: the sample writer orders-service, registered with one key.
  const first = await keygen(t, keyDir(), "orders-service");
  oldKid = first.kid;
  await register(t, ["--issuer", "orders-service", "--public-key", first.publicKey, "--allowed-role", "orders_writer"]);
  // `--local` reads the running stack's state file; this stack runs in this process.
  const dir = mkdtempSync(join(tmpdir(), "fedjwt-printed-"));
  stateFile = join(dir, "stack.json");
  writeFileSync(
    stateFile,
    JSON.stringify({
      pid: process.pid,
      info: { API_URL: t.apiUrl, SECRET_KEY: LOCAL_SECRET_KEY, PUBLISHABLE_KEY: LOCAL_PUBLISHABLE_KEY, FEDJWT_AUDIENCE: t.audience },
    }),
  );
  placeholders = [
    ["https://<ref>.supabase.co", t.apiUrl],
    ["http://127.0.0.1:54321", t.apiUrl],
    ["<ref>", "local"], // keygen names files after the target: 127.0.0.1 → local
    ["<secret key>", LOCAL_SECRET_KEY],
    ["<publishable key>", LOCAL_PUBLISHABLE_KEY],
    ["<issuer>", "deploy-writer"],
    ["<role>", "orders_writer"],
    ["<old kid>", oldKid],
    ["<leaked kid>", oldKid],
    // docs/workload-identity.md: a platform's IDs, shaped as the templates require (nothing is fetched).
    ["<owner id>", "74"],
    ["<repository id>", "1296269"],
    ["<group id>", "1234"],
    ["<project id>", "5678"],
    ["<your cluster's issuer URL>", "https://oidc.cluster.example.com"],
    ["<service account unique id>", "112233445566778899001"],
    ["<that issuer URL>", "https://a1b2c3d4-1111-2222-3333-444455556666.tokens.sts.global.api.aws"],
    ["<tenant id>", "72f988bf-86f1-41af-91ab-2d7cd011db47"],
    ["<the managed identity's or service principal's object id>", "0b1e6a4c-2f5d-4c3b-9a8e-7d6c5b4a3f21"],
    ["<tenant>", "example-tenant"],
    ["<client id>", "abc123clientid"],
  ];
}, 120_000);

/** The issuer URLs of the active URL issuers (workload identity). */
async function activeUrlIssuers(t: Target): Promise<string[]> {
  return (await serviceRead<Array<{ issuer_url: string }>>(t, "jwt_url_issuers?select=issuer_url&is_active=is.true")).map(
    (r) => r.issuer_url,
  );
}

/** Deactivates one URL issuer, with the service key. */
async function deactivateUrlIssuer(t: Target, url: string): Promise<void> {
  const res = await fetch(`${t.apiUrl}/rest/v1/jwt_url_issuers?issuer_url=eq.${encodeURIComponent(url)}`, {
    method: "PATCH",
    headers: { apikey: t.serviceKey, authorization: `Bearer ${t.serviceKey}`, "content-type": "application/json" },
    body: JSON.stringify({ is_active: false }),
  });
  if (!res.ok) throw new Error(`deactivating ${url}: ${res.status} ${await res.text()}`);
}

/** Documents run whole by a test of their own, on the project they set up: docs/python-writer.md (python-writer.test.ts). */
const RUN_ELSEWHERE = ["docs/python-writer.md"];
const DOCS = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
].filter((f) => !RUN_ELSEWHERE.includes(f) && fedjwtLines(readFileSync(join(root, f), "utf8")).some((l) => !l.startsWith("export ")));

describe("the fedjwt commands the docs print run as printed", () => {
  it("finds them in the docs that give commands", () => {
    expect(DOCS).toEqual(expect.arrayContaining(["docs/deployment.md", "docs/key-rotation.md", "docs/operations.md"]));
  });

  it.each(DOCS)(
    "%s",
    async (doc) => {
      const { script, unknown } = fill(fedjwtLines(readFileSync(join(root, doc), "utf8")), placeholders);
      expect(unknown, "placeholders nobody can fill").toEqual([]);
      const t = target();
      const issuersBefore = await activeUrlIssuers(t);
      const r = await runScript(script, mkdtempSync(join(tmpdir(), "fedjwt-doc-run-")), { FEDJWT_STACK_STATE: stateFile });
      expect(r.code, `${doc}:\n${r.stdout}\n${r.stderr}`).toBe(0);
      // The platforms' issuers a doc registered (docs/workload-identity.md) are not reachable from here: they are
      // deactivated again, so that doctor's discovery check below does not go looking for them.
      for (const url of (await activeUrlIssuers(t)).filter((u) => !issuersBefore.includes(u))) await deactivateUrlIssuer(t, url);
    },
    120_000,
  );

  it("doctor --local checks the running stack with its own URL, keys and audience", async () => {
    const t = target();
    const r = await fedjwt(t, ["doctor", "--local", "--json"], {
      FEDJWT_STACK_STATE: stateFile,
      SUPABASE_URL: "",
      SUPABASE_SERVICE_ROLE_KEY: "",
    });
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ id: string; status: string; message: string }> };
    expect({ code: r.code, ok: report.ok }, r.stdout).toEqual({ code: 0, ok: true });
    expect(report.checks.find((c) => c.id === "registry")?.status).toBe("ok");
  });

  it("a policy change alone leaves the keys as they are (fedjwt policy)", async () => {
    const t = target();
    const before = JSON.parse((await fedjwt(t, ["list", "--issuer", "orders-service", "--json"])).stdout);
    const changed = await fedjwt(t, ["policy", "--issuer", "orders-service", "--rate-limit", "7"]);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout.trimEnd()).toMatch(
      /^Updated the policy of issuer "orders-service"\.\n.*\n {2}rate limit: 7\/s for the project \(shared by every gateway instance\), burst 7$/,
    );
    const after = JSON.parse((await fedjwt(t, ["list", "--issuer", "orders-service", "--json"])).stdout);
    expect(after.issuers[0].keys.map((k: { kid: string }) => k.kid)).toEqual(before.issuers[0].keys.map((k: { kid: string }) => k.kid));
    expect(after.issuers[0].rate_limit_per_second).toBe(7);
    expect((await fedjwt(t, ["register", "--issuer", "orders-service", "--rate-limit", "none"])).code).toBe(0);
    const unknown = await fedjwt(t, ["policy", "--issuer", "nobody-service", "--rate-limit", "7"]);
    expect({ code: unknown.code, stderr: unknown.stderr }).toEqual({
      code: 2,
      stderr: expect.stringContaining('no issuer named "nobody-service": a new writer is registered with its key'),
    });
  });
});
