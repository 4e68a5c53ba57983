// One source for each fact: docs/reference.md's environment and reason-code tables are checked against the
// proxy's code, no other doc keeps a copy of either table, and no doc or comment cites a file users never get.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "@fedjwt/cli";
import { ENV, POLICY_PROBLEM_CODES, REASONS } from "@fedjwt/proxy";
import { GATEWAY_RESERVED_CLAIMS } from "@fedjwt/signer";
import { repoRoot } from "@fedjwt/local-stack";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = repoRoot();
const read = (file: string) => readFileSync(join(root, file), "utf8");

/** The rows of the markdown table under a heading: first cell (unquoted) → the other cells. */
function tableUnder(markdown: string, heading: string): Map<string, string[]> {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  expect(start, `heading "## ${heading}"`).toBeGreaterThan(-1);
  const end = markdown.indexOf("\n## ", start + 1);
  const rows = new Map<string, string[]>();
  for (const line of markdown.slice(start, end === -1 ? undefined : end).split("\n")) {
    const cells = /^\|(.*)\|$/
      .exec(line.trim())?.[1]
      ?.split("|")
      .map((c) => c.trim());
    if (!cells || /^-+$/.test(cells[0]!) || ["variable", "code", "command"].includes(cells[0]!)) continue;
    rows.set(cells[0]!.replace(/^`|`$/g, ""), cells.slice(1));
  }
  return rows;
}

/** Every variable the function reads: the custom secrets in ENV, and the SUPABASE_* names env.ts asks for. */
function variablesInCode(): string[] {
  const source = read("packages/proxy/src/env.ts");
  const platform = [...source.matchAll(/get\("(SUPABASE_[A-Z_]+)"\)/g)].map((m) => m[1]!);
  return [...new Set([...platform, ...Object.values(ENV)])].sort();
}

/** Files under version control with these endings (a fresh clone's view, whatever is built or installed). */
function tracked(...endings: string[]): string[] {
  return execFileSync("git", ["ls-files"], { cwd: root, encoding: "utf8" })
    .split("\n")
    .filter((f) => f && endings.some((e) => f.endsWith(e)));
}

describe("docs/reference.md", () => {
  const reference = read("docs/reference.md");

  it("lists exactly the environment variables the function reads", () => {
    expect([...tableUnder(reference, "Environment of the `rest` function").keys()].sort()).toEqual(variablesInCode());
  });

  it("lists exactly the reason codes of packages/proxy/src/reasons.ts, each with its status", () => {
    const documented = Object.fromEntries([...tableUnder(reference, "Reason codes")].map(([code, cells]) => [code, Number(cells[0])]));
    const inCode = Object.fromEntries(Object.entries(REASONS).map(([code, r]) => [code, r.status]));
    expect(documented).toEqual(inCode);
  });

  it("lists exactly the CLI's commands, in its order", () => {
    expect([...tableUnder(reference, "CLI").keys()]).toEqual(COMMANDS.map((c) => c.name));
  });

  it("names every code a trust policy is refused with", () => {
    const cli = reference.slice(reference.indexOf("\n## CLI\n"), reference.indexOf("\n## Token contract\n"));
    expect(POLICY_PROBLEM_CODES.filter((code) => !cli.includes(`\`${code}\``))).toEqual([]);
  });

  it("is the only markdown file with a row per variable or per reason code", () => {
    const names = [...variablesInCode(), ...Object.keys(REASONS)];
    const copies = tracked(".md")
      .filter((f) => f !== "docs/reference.md")
      .flatMap((f) =>
        read(f)
          .split("\n")
          .filter((l) => names.some((n) => l.trim().startsWith(`| \`${n}\``)))
          .map((l) => `${f}: ${l.slice(0, 60)}`),
      );
    expect(copies).toEqual([]);
  });
});

describe("docs/token-contract.md", () => {
  it("lists exactly the claims the gateway refuses as reserved (all the signer reserves but role and roles)", () => {
    const contract = read("docs/token-contract.md");
    const start = contract.indexOf("**Reserved claims**");
    const paragraph = contract.slice(start, contract.indexOf("(The TypeScript signer", start));
    const listed = [...paragraph.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!).filter((c) => c !== "claim_reserved");
    expect(listed.sort()).toEqual(GATEWAY_RESERVED_CLAIMS.filter((c) => c !== "role" && c !== "roles").sort());
  });
});

describe("docs stand alone", () => {
  it("no doc, comment or script cites the team's design file or the shared folder", () => {
    const design = ["DESIGN", "md"].join(".");
    const shared = ["..", "shared"].join("/");
    const hits = tracked(".md", ".ts", ".tsx", ".json", ".toml", ".sql", ".yaml", ".yml", ".sh", "run")
      .filter((f) => !f.endsWith("pnpm-lock.yaml"))
      .filter((f) => {
        const text = read(f);
        return text.includes(design) || text.includes(shared);
      });
    expect(hits).toEqual([]);
  });

  it("docs/decisions.md exists and every doc it links to is in the repository", () => {
    const decisions = read("docs/decisions.md");
    for (const [, link] of decisions.matchAll(/\]\(([^)#]+)(#[^)]*)?\)/g)) {
      if (/^https?:/.test(link!)) continue;
      expect(() => read(join("docs", link!)), link).not.toThrow();
    }
  });
});

describe("docs/deployment.md and the README, taken literally", () => {
  it("the Supabase CLI command the deployment guide gives for this checkout runs the pinned version", () => {
    const guide = read("docs/deployment.md");
    expect(guide).toContain("`pnpm exec supabase …`");
    const pinned = (parse(read("pnpm-workspace.yaml")) as { catalog: Record<string, string> }).catalog.supabase;
    expect(execFileSync("pnpm", ["exec", "supabase", "--version"], { encoding: "utf8", cwd: root }).trim()).toBe(pinned);
  }, 60_000);

  it("the README's writer example says that WRITER_KEY holds the key's PEM text, not a path", () => {
    const line = read("README.md")
      .split("\n")
      .find((l) => l.includes("process.env.WRITER_KEY"));
    expect(line).toMatch(/WRITER_KEY!? \/\* the key's PEM text, not its path \*\//);
  });
});
