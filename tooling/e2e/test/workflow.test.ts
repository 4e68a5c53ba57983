// The GitHub workflow cannot run here (it needs Docker): this test parses it and checks that the jobs
// and steps the README promises exist, and that they agree with what the end-to-end suite reads.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  steps: Step[];
  env?: Record<string, string>;
}

const root = fileURLToPath(new URL("../../../", import.meta.url));
const workflow = parse(readFileSync(`${root}.github/workflows/ci.yml`, "utf8")) as { on: unknown; jobs: Record<string, Job> };
const runs = (job: Job) => job.steps.map((s) => s.run ?? "").join("\n");
const uses = (job: Job) => job.steps.map((s) => s.uses ?? "");

describe(".github/workflows/ci.yml", () => {
  it("runs on push and pull requests", () => {
    expect(Object.keys(workflow.on as object).sort()).toEqual(["pull_request", "push"]);
  });

  it("test job: Node 24, pnpm, and the suite through .ci/run", () => {
    const job = workflow.jobs.test!;
    expect(uses(job)).toEqual(expect.arrayContaining(["actions/checkout@v4", "pnpm/action-setup@v4", "actions/setup-node@v4"]));
    expect(job.steps.find((s) => s.uses === "actions/setup-node@v4")!.with!["node-version"]).toBe(24);
    expect(runs(job)).toContain("bash .ci/run");
    expect(readFileSync(`${root}.ci/run`, "utf8")).toMatch(/^pnpm test 2>&1/m);
  });

  it("supabase job: setup-cli at the CLI version this repo pins, start, test db, serve, end-to-end", () => {
    const job = workflow.jobs.supabase!;
    const cli = job.steps.find((s) => s.uses === "supabase/setup-cli@v1");
    const pinned = (parse(readFileSync(`${root}pnpm-workspace.yaml`, "utf8")) as { catalog: Record<string, string> }).catalog.supabase;
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(cli?.with?.version).toBe(pinned);
    const script = runs(job);
    const order = ["supabase start", "supabase test db", "supabase functions serve", "pnpm --filter @fedjwt/e2e test"].map((s) =>
      script.indexOf(s),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("does not exclude the services the tests need", () => {
    const start = runs(workflow.jobs.supabase!)
      .split("\n")
      .find((l) => l.startsWith("supabase start"))!;
    const excluded = (/-x\s+(\S+)/.exec(start)?.[1] ?? "").split(",");
    for (const needed of ["kong", "postgrest", "edge-runtime", "gotrue"]) expect(excluded).not.toContain(needed);
  });

  it("gives the end-to-end suite every variable it reads", () => {
    const target = readFileSync(`${root}tooling/e2e/test/target.ts`, "utf8");
    const read = [...new Set([...target.matchAll(/process\.env\.(E2E_[A-Z_]+)/g)].map((m) => m[1]!))].sort();
    const job = workflow.jobs.supabase!;
    const provided = new Set(Object.keys(job.env ?? {}));
    // The keys come from `supabase status -o env`, renamed with a sed expression into $GITHUB_ENV.
    const exported = /sed -n 's\/\^\\\(([A-Z_\\|]+)\\\)=.*E2E_\\1=.*GITHUB_ENV/.exec(runs(job));
    for (const name of exported?.[1]?.split("\\|") ?? []) provided.add(`E2E_${name}`);
    expect(read).toEqual(["E2E_ANON_KEY", "E2E_API_URL", "E2E_AUDIENCE", "E2E_JWT_SECRET", "E2E_KEY_CACHE_TTL_MS", "E2E_SERVICE_ROLE_KEY"]);
    for (const name of read) expect(provided.has(name), name).toBe(true);
  });
});
