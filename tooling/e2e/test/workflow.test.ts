// The GitHub workflow cannot run here (it needs Docker): this test parses it and checks that the jobs
// and steps the README promises exist, and that they agree with what pnpm dev and the end-to-end suite do.
import { readdirSync, readFileSync } from "node:fs";
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

  it("supabase job: pnpm dev itself (its Docker path), then pgTAP, then the end-to-end suite against that stack", () => {
    const job = workflow.jobs.supabase!;
    const script = runs(job);
    const order = ["pnpm dev", "supabase test db", "pnpm --filter @fedjwt/e2e exec vitest run"].map((s) => script.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // No step starts or serves the stack itself: pnpm dev does, and the end-to-end step comes after it.
    expect(script).not.toMatch(/supabase (start|functions serve)/);
    expect(job.env?.E2E_API_URL).toBe("http://127.0.0.1:54321");
  });

  it("uses the Supabase CLI this repository pins (the root devDependency), never another one", () => {
    const job = workflow.jobs.supabase!;
    expect(uses(job)).not.toContain("supabase/setup-cli@v1");
    const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { devDependencies: Record<string, string> };
    expect(pkg.devDependencies.supabase).toBe("catalog:");
    const calls = runs(job).match(/(?:^|[|&;]\s*|\n)\s*(?:pnpm exec )?supabase \S+/g) ?? [];
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expect(call.trim().replace(/^[|&;]\s*/, ""), call).toMatch(/^pnpm exec supabase /);
  });

  it("runs exactly the black-box files: those that take their stack from E2E_* (useTarget)", () => {
    const dir = `${root}tooling/e2e/test`;
    const blackBox = readdirSync(dir)
      .filter((f) => f.endsWith(".test.ts") && /\buseTarget\(/.test(readFileSync(`${dir}/${f}`, "utf8")))
      .map((f) => `test/${f}`)
      .sort();
    const step = runs(workflow.jobs.supabase!)
      .split("\n")
      .find((l) => l.includes("pnpm --filter @fedjwt/e2e exec vitest run"))!;
    expect(
      step
        .split(/\s+/)
        .filter((w) => w.startsWith("test/"))
        .sort(),
    ).toEqual(blackBox);
    // One file at a time: they share the one stack (a file's rows and cached registry reads are the next one's).
    expect(step).toContain("--no-file-parallelism");
  });

  it("pnpm dev's supabase start does not exclude the services the tests need", () => {
    const dev = readFileSync(`${root}scripts/dev.ts`, "utf8");
    const excluded = /"-x",\s*"([^"]+)"/.exec(dev)?.[1]?.split(",");
    expect(excluded).toBeDefined();
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
