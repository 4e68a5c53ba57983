// fedjwt adopt on throwaway projects laid out like `supabase init` makes them (config.toml written here,
// so these tests need no Supabase CLI; tooling/e2e/test/adopt.test.ts runs the real CLI end to end).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importSpecifiers, nextVersion } from "../src/commands/adopt.ts";
import { fedjwt, tempDir } from "./helpers.ts";

const TEMPLATE = fileURLToPath(new URL("../../../", import.meta.url));
const BUNDLE = fileURLToPath(new URL("../dist/fedjwt.mjs", import.meta.url));
const CONFIG = `project_id = "existing"\n\n[api]\nenabled = true\nport = 54321\n\n[functions.other]\nverify_jwt = true\n`;

/** A project as `supabase init` leaves it, with one migration of its own. */
function project(lastMigration = "20270101120000"): string {
  const dir = tempDir();
  mkdirSync(join(dir, "supabase", "migrations"), { recursive: true });
  writeFileSync(join(dir, "supabase", "config.toml"), CONFIG);
  writeFileSync(
    join(dir, "supabase", "migrations", `${lastMigration}_profiles.sql`),
    "create table public.profiles (id uuid primary key);\n",
  );
  writeFileSync(join(dir, ".gitignore"), "node_modules\n*.key\n");
  return dir;
}

function migrations(dir: string): string[] {
  return readdirSync(join(dir, "supabase", "migrations")).sort();
}

describe("fedjwt adopt", () => {
  it("copies the function with only what it imports, and rewrites deno.json to the copies", () => {
    const dir = project();
    const r = fedjwt(["adopt", dir, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const paths = out.files.map((f: { path: string }) => f.path);
    expect(paths).toContain("supabase/functions/rest/index.ts");
    expect(paths).toContain("supabase/functions/_shared/fedjwt/proxy/handler.ts");
    expect(paths).toContain("supabase/functions/_shared/fedjwt/signer/sign.ts");
    expect(paths.some((p: string) => p.includes("testing"))).toBe(false); // not imported by the function
    const deno = JSON.parse(readFileSync(join(dir, "supabase/functions/rest/deno.json"), "utf8"));
    expect(deno.imports).toEqual({
      "@fedjwt/proxy": "../_shared/fedjwt/proxy/index.ts",
      "@fedjwt/signer": "../_shared/fedjwt/signer/index.ts",
      jose: JSON.parse(readFileSync(join(TEMPLATE, "supabase/functions/rest/deno.json"), "utf8")).imports.jose,
    });
    expect(readFileSync(join(dir, "supabase/functions/_shared/fedjwt/proxy/outbound.ts"), "utf8")).toBe(
      readFileSync(join(TEMPLATE, "packages/proxy/src/outbound.ts"), "utf8"),
    );
  });

  it("stamps the template's migrations after the project's last one, examples only with --examples", () => {
    const dir = project("29990101000000"); // later than now: the new ones must still come after it
    expect(fedjwt(["adopt", dir]).code).toBe(0);
    const names = migrations(dir);
    expect(names[0]).toBe("29990101000000_profiles.sql");
    const adopted = names.slice(1);
    const template = readdirSync(join(TEMPLATE, "supabase/migrations"))
      .filter((f) => f.endsWith(".sql") && !f.includes("_example_"))
      .sort();
    expect(adopted.map((f) => f.slice(15))).toEqual(template.map((f) => f.slice(15)));
    expect(adopted.map((f) => f.slice(0, 14))).toEqual(adopted.map((_, i) => `2999010100000${i + 1}`));
    const body = readFileSync(join(dir, "supabase/migrations", adopted[0]!), "utf8");
    expect(body).toBe(
      `-- fedjwt adopt: from template migration ${template[0]}\n${readFileSync(join(TEMPLATE, "supabase/migrations", template[0]!), "utf8")}`,
    );

    expect(fedjwt(["adopt", dir, "--examples"]).code).toBe(0);
    const withExamples = migrations(dir);
    expect(withExamples.filter((f) => f.includes("_example_")).length).toBeGreaterThan(0);
    expect(withExamples.slice(0, names.length)).toEqual(names); // earlier adoptions are kept as they are
  });

  it("adds [functions.rest] and the .gitignore entries once; a second run changes nothing", () => {
    const dir = project();
    expect(fedjwt(["adopt", dir]).code).toBe(0);
    const snapshot = () => ({
      config: readFileSync(join(dir, "supabase/config.toml"), "utf8"),
      ignore: readFileSync(join(dir, ".gitignore"), "utf8"),
      migrations: migrations(dir),
    });
    const first = snapshot();
    expect(first.config.startsWith(CONFIG)).toBe(true);
    expect(first.config).toMatch(
      /\[functions\.rest\]\nenabled = true\n#[^\n]*\nverify_jwt = false\nimport_map = "\.\/functions\/rest\/deno\.json"\nentrypoint = "\.\/functions\/rest\/index\.ts"\n$/,
    );
    for (const entry of ["keys/", "*.pem", "supabase/signing_keys.json", "supabase/functions/.env"])
      expect(first.ignore.split("\n")).toContain(entry);
    expect(first.ignore.split("\n").filter((l) => l === "*.key")).toHaveLength(1); // already there, not repeated

    const again = fedjwt(["adopt", dir, "--json"]);
    expect(again.code).toBe(0);
    const out = JSON.parse(again.stdout);
    expect(out.files.every((f: { status: string }) => f.status === "unchanged")).toBe(true);
    expect(out.migrations.every((m: { status: string }) => m.status === "unchanged")).toBe(true);
    expect(out.config).toBe("present");
    expect(out.gitignore).toEqual([]);
    expect(snapshot()).toEqual(first);
  });

  it.each([
    [
      "a changed function file",
      (dir: string) => writeFileSync(join(dir, "supabase/functions/rest/index.ts"), "// mine\n"),
      /supabase\/functions\/rest\/index\.ts exists with other content/,
    ],
    [
      "an edited adopted migration",
      (dir: string) => {
        const f = migrations(dir).find((n) => n.includes("key_registry"))!;
        writeFileSync(join(dir, "supabase/migrations", f), `${readFileSync(join(dir, "supabase/migrations", f), "utf8")}\n-- edited\n`);
      },
      /adopted from .*key_registry\.sql\) differs from the template's/,
    ],
    [
      "[functions.rest] with verify_jwt = true",
      (dir: string) => {
        const p = join(dir, "supabase/config.toml");
        writeFileSync(p, readFileSync(p, "utf8").replace("verify_jwt = false", "verify_jwt = true"));
      },
      /without verify_jwt = false/,
    ],
  ])("refuses %s, writes nothing, exit 2", (_label, edit, message) => {
    const dir = project();
    expect(fedjwt(["adopt", dir]).code).toBe(0);
    edit(dir);
    const before = { config: readFileSync(join(dir, "supabase/config.toml"), "utf8"), migrations: migrations(dir) };
    const r = fedjwt(["adopt", dir, "--examples"]); // would add the example migrations if it went ahead
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^fedjwt adopt: refusing to change .*; nothing was written/);
    expect(r.stderr).toMatch(message);
    expect({ config: readFileSync(join(dir, "supabase/config.toml"), "utf8"), migrations: migrations(dir) }).toEqual(before);
  });

  it.each([
    [["adopt"], /give exactly one project folder/],
    [["adopt", "/nonexistent/fedjwt-project"], /has no supabase\/config\.toml; run `supabase init` there first/],
    [["adopt", TEMPLATE], /the project is the template itself/],
    [["adopt", ".", "--template", "/nonexistent/template"], /cannot find the template/],
    [["adopt", ".", "--bogus"], /Unknown option '--bogus'/],
  ])("%j → exit 2, one clear line", (args, message) => {
    const cwd = project();
    const r = fedjwt(args, { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it("points at the parent when given the supabase folder itself", () => {
    const dir = project();
    const r = fedjwt(["adopt", join(dir, "supabase")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`give its parent folder, ${dir}`);
  });

  it("--help describes what it writes and its flags", () => {
    const r = fedjwt(["adopt", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--template", "--examples", "--json"]) expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain("[functions.rest]");
  });

  it("prints the next commands, with db push --remote", () => {
    const r = fedjwt(["adopt", project()]);
    expect(r.stdout).toContain("supabase db push --remote");
    expect(r.stdout).toContain("--include-all");
    expect(r.stdout).toContain("supabase functions deploy rest --use-api");
    expect(r.stdout).toContain("  fedjwt keygen --issuer <issuer> --target https://<ref>.supabase.co\n");
    expect(r.stdout).toContain(
      '  fedjwt register --url https://<ref>.supabase.co --service-role-key "$SUPABASE_SECRET_KEY" --issuer <issuer> --public-key keys/<issuer>-<ref>.pub --allowed-role <role>\n',
    );
  });

  it("says that the adopted function-privileges migration revokes PUBLIC's EXECUTE on the project's functions", () => {
    const dir = project();
    const out = JSON.parse(fedjwt(["adopt", dir, "--json"]).stdout);
    const file = out.migrations.find((m: { template: string }) => m.template.endsWith("_writer_function_privileges.sql")).file;
    expect(out.notes).toHaveLength(1); // a first adoption: no writer role of the project's yet
    expect(out.notes[0]).toMatch(
      new RegExp(`^${file} revokes PUBLIC's EXECUTE on your functions in public: anon and authenticated keep it`),
    );
    expect(out.notes[0]).toContain("grant execute on function public.<f>(…) to anon, authenticated");
    expect(fedjwt(["adopt", dir]).stdout).toContain(`Note: ${file} revokes PUBLIC's EXECUTE`);
  });

  it("on a re-run that adds the role-memberships migration, says which writer roles it refuses", () => {
    const dir = project();
    const first = JSON.parse(fedjwt(["adopt", dir, "--json"]).stdout);
    const memberships = first.migrations.find((m: { template: string }) => m.template.endsWith("_writer_role_memberships.sql"));
    rmSync(join(dir, "supabase", "migrations", memberships.file)); // adopted before that migration existed
    const again = JSON.parse(fedjwt(["adopt", dir, "--json"]).stdout);
    expect(again.notes).toHaveLength(2);
    expect(again.notes[1]).toMatch(/_writer_role_memberships\.sql makes a writer role that owns a table, function or schema/);
  });
});

describe("fedjwt.mjs, the bundled CLI", () => {
  it("runs from a folder outside the template with no node_modules, and adopts with --template", () => {
    const elsewhere = tempDir();
    copyFileSync(BUNDLE, join(elsewhere, "fedjwt.mjs"));
    const dir = project();
    const run = (args: string[]) =>
      spawnSync(process.execPath, [join(elsewhere, "fedjwt.mjs"), ...args], { cwd: elsewhere, encoding: "utf8", timeout: 30_000 });
    expect(existsSync(join(elsewhere, "node_modules"))).toBe(false);
    const keys = run(["keygen", "--issuer", "bundle-writer", "--target", "staging", "--out", join(elsewhere, "keys"), "--json"]);
    expect(keys.status).toBe(0);
    expect(JSON.parse(keys.stdout).alg).toBe("ES256");
    expect(run(["adopt", dir]).status).toBe(2); // a copied bundle has no template beside it
    const r = run(["adopt", dir, "--template", TEMPLATE, "--json"]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).template).toBe(TEMPLATE.replace(/\/$/, ""));
  });
});

describe("helpers", () => {
  it("nextVersion: now when the last migration is older, else one second later", () => {
    const now = new Date("2027-03-04T05:06:07Z");
    expect(nextVersion(undefined, now)).toBe("20270304050607");
    expect(nextVersion("20261129000100", now)).toBe("20270304050607");
    expect(nextVersion("20270304050607", now)).toBe("20270304050608");
    expect(nextVersion("29991231235959", now)).toBe("30000101000000");
  });

  it("importSpecifiers: static, multi-line, re-exports and dynamic imports", () => {
    const src = `import { a } from "./a.ts";\nimport {\n  b,\n  c,\n} from "@fedjwt/signer";\nexport { d } from './d.ts';\nexport * from "./e.ts";\nconst f = await import("./f.ts");\nimport "./side.ts";\nimport type { G } from "jose";\n`;
    expect(importSpecifiers(src).sort()).toEqual(["./a.ts", "./d.ts", "./e.ts", "./f.ts", "./side.ts", "@fedjwt/signer", "jose"].sort());
  });
});
