// fedjwt adopt on throwaway projects laid out like `supabase init` makes them (config.toml written here,
// so these tests need no Supabase CLI; tooling/e2e/test/adopt.test.ts runs the real CLI end to end).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importSpecifiers, nextVersion, TEMPLATE_PARTS } from "../src/commands/adopt.ts";
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
    expect(adopted.map((f) => f.slice(0, 14))).toEqual(adopted.map((_, i) => String(29990101000000 + i + 1)));
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
      (dir: string) => appendFileSync(join(dir, "supabase/functions/rest/index.ts"), "// mine\n"),
      /supabase\/functions\/rest\/index\.ts was edited since it was adopted/,
    ],
    [
      "an edited adopted migration",
      (dir: string) => {
        const f = migrations(dir).find((n) => n.includes("key_registry"))!;
        writeFileSync(join(dir, "supabase/migrations", f), `${readFileSync(join(dir, "supabase/migrations", f), "utf8")}\n-- edited\n`);
      },
      /adopted from .*key_registry\.sql\) was edited since it was adopted/,
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
    for (const flag of ["--template", "--examples", "--function", "--json"]) expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain("[functions.<name>]");
    expect(r.stdout).toContain("supabase/fedjwt-adopted.json");
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
    expect(out.notes).toHaveLength(2); // a first adoption: no writer role of the project's yet
    expect(out.notes[0]).toMatch(
      new RegExp(`^${file} revokes PUBLIC's EXECUTE on your functions in public: anon and authenticated keep it`),
    );
    expect(out.notes[0]).toContain("grant execute on function public.<f>(…) to anon, authenticated");
    expect(out.notes[1]).toMatch(
      /^\d{14}_writer_function_default_privileges\.sql gives no EXECUTE to PUBLIC on functions postgres creates/,
    );
    const printed = fedjwt(["adopt", project()]).stdout;
    expect(printed).toMatch(/Note: \d{14}_writer_function_privileges\.sql revokes PUBLIC's EXECUTE/);
    expect(printed).toMatch(/Note: \d{14}_writer_function_default_privileges\.sql gives no EXECUTE to PUBLIC/);
    expect(fedjwt(["adopt", dir]).stdout).not.toContain("Note:"); // said once, when they were adopted
  });

  it("on a re-run that adds the role-memberships migration, says which writer roles it refuses", () => {
    const dir = project();
    const first = JSON.parse(fedjwt(["adopt", dir, "--json"]).stdout);
    const memberships = first.migrations.find((m: { template: string }) => m.template.endsWith("_writer_role_memberships.sql"));
    rmSync(join(dir, "supabase", "migrations", memberships.file)); // adopted before that migration existed
    const again = JSON.parse(fedjwt(["adopt", dir, "--json"]).stdout);
    expect(again.notes).toHaveLength(1); // the revoking migrations were adopted before: not repeated
    expect(again.notes[0]).toMatch(/_writer_role_memberships\.sql makes a writer role that owns a table, function or schema/);
  });
});

/** Every file under `dir` with its content (what a refused run must leave as it was). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) out[p] = `-> ${readlinkSync(p)}`;
      else if (e.isDirectory()) walk(p);
      else out[p] = readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return out;
}

describe("fedjwt adopt never writes outside the project through symbolic links", () => {
  it.each([
    ["supabase/functions, a link to a folder outside", "supabase/functions", (out: string) => out],
    ["supabase/migrations, a link to a folder outside", "supabase/migrations", (out: string) => out],
    ["supabase/functions/_shared, an intermediate folder", "supabase/functions/_shared", (out: string) => out],
    [
      "the function's index.ts, a dangling link to a file outside",
      "supabase/functions/rest/index.ts",
      (out: string) => join(out, "index.ts"),
    ],
    [".gitignore, a link to a file outside", ".gitignore", (out: string) => join(out, "gitignore")],
    ["supabase/config.toml, a link to a file outside", "supabase/config.toml", (out: string) => join(out, "config.toml")],
  ])("%s: refused, named, nothing written anywhere", (_label, link, targetIn) => {
    const dir = project();
    const outsideDir = tempDir();
    const target = targetIn(outsideDir);
    if (link === ".gitignore") writeFileSync(target, "node_modules\n");
    if (link === "supabase/config.toml") writeFileSync(target, CONFIG);
    rmSync(join(dir, link), { recursive: true, force: true });
    mkdirSync(dirname(join(dir, link)), { recursive: true });
    symlinkSync(target, join(dir, link));
    const before = { project: tree(dir), outside: tree(outsideDir) };
    const r = fedjwt(["adopt", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("nothing was written:\n  - adopt never writes through a symbolic link");
    expect(r.stderr).toContain(`\n    ${link} → ${target}\n`);
    expect(r.stdout).toBe("");
    expect({ project: tree(dir), outside: tree(outsideDir) }).toEqual(before);
  });

  it.each([
    ["a dangling link to a file inside the project", "missing.ts", false],
    ["a link to a file of the project's own, recorded as adopted", "src/app.ts", true],
  ])("a file adopt writes that is itself a symbolic link (%s): refused, named, nothing written", (_label, target, recorded) => {
    const dir = project();
    expect(fedjwt(["adopt", dir]).code).toBe(0);
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const path = join(dir, "supabase/fedjwt-adopted.json");
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    const index = join(dir, "supabase/functions/rest/index.ts");
    rmSync(index);
    if (recorded) {
      // The manifest records the link's target as adopted and unedited: an upgrade would write through the link.
      mkdirSync(join(dir, "src"));
      writeFileSync(join(dir, target), "export const app = 1;\n");
      manifest.files["supabase/functions/rest/index.ts"] = sha("export const app = 1;\n");
    }
    symlinkSync(join(dir, target), index);
    // An older handler.ts, so that the run has something else to write first.
    const older = join(dir, "supabase/functions/_shared/fedjwt/proxy/handler.ts");
    writeFileSync(older, `${readFileSync(older, "utf8")}// an older version\n`);
    manifest.files["supabase/functions/_shared/fedjwt/proxy/handler.ts"] = sha(readFileSync(older, "utf8"));
    writeFileSync(path, JSON.stringify(manifest));
    const before = tree(dir);
    const r = fedjwt(["adopt", dir]);
    expect(r.stderr).toContain(`\n    supabase/functions/rest/index.ts → ${join(dir, target)}\n`);
    expect(r.code).toBe(2);
    expect(tree(dir)).toEqual(before);
  });

  it("a file adopt would update that has another hard link (here outside the project): refused by name, neither changed", () => {
    const older = templateCopy();
    const handler = join(older, "packages/proxy/src/handler.ts");
    writeFileSync(handler, `${readFileSync(handler, "utf8")}// an older version\n`);
    const dir = project();
    expect(fedjwt(["adopt", dir, "--template", older]).code).toBe(0);
    const adopted = join(dir, "supabase/functions/_shared/fedjwt/proxy/handler.ts");
    const elsewhere = join(tempDir(), "handler.ts");
    linkSync(adopted, elsewhere);
    const before = readFileSync(elsewhere, "utf8");
    const r = fedjwt(["adopt", dir]);
    expect(r.stderr).toContain(
      "adopt writes only plain files of its own: supabase/functions/_shared/fedjwt/proxy/handler.ts is a file with other hard links",
    );
    expect(r.code).toBe(2);
    expect(readFileSync(elsewhere, "utf8")).toBe(before);
  });

  it("a file adopt writes that is a FIFO: refused by name, not read", () => {
    const dir = project();
    mkdirSync(join(dir, "supabase/functions/rest"), { recursive: true });
    expect(spawnSync("mkfifo", [join(dir, "supabase/functions/rest/index.ts")]).status).toBe(0);
    const r = fedjwt(["adopt", dir]);
    expect(r.stderr).toContain("supabase/functions/rest/index.ts is not a regular file");
    expect(r.code).toBe(2);
  });

  it("a .sql entry in supabase/migrations that is no regular file (a folder, a FIFO) is passed over, not read", () => {
    const dir = project();
    mkdirSync(join(dir, "supabase/migrations/20270101130000_a_folder.sql"));
    expect(spawnSync("mkfifo", [join(dir, "supabase/migrations/20270101140000_a_fifo.sql")]).status).toBe(0);
    const r = fedjwt(["adopt", dir]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("a link inside the project to a folder inside it is not followed either: refused, named, nothing written", () => {
    const dir = project();
    mkdirSync(join(dir, "edge"));
    symlinkSync(join(dir, "edge"), join(dir, "supabase", "functions"));
    const before = tree(dir);
    const r = fedjwt(["adopt", dir]);
    expect(r.stderr).toContain(`\n    supabase/functions → ${join(dir, "edge")}\n`);
    expect(r.code).toBe(2);
    expect(tree(dir)).toEqual(before);
  });
});

/** A copy of the template's parts adopt reads, to play an older (or newer) version of it. */
function templateCopy(): string {
  const dir = tempDir();
  for (const part of TEMPLATE_PARTS) cpSync(join(TEMPLATE, part), join(dir, part), { recursive: true });
  return dir;
}

describe("fedjwt adopt upgrades an adoption", () => {
  it("records what it adopted: the template's version and the sha256 of every file it wrote", () => {
    const dir = project();
    const out = JSON.parse(fedjwt(["adopt", dir, "--json"]).stdout);
    const manifest = JSON.parse(readFileSync(join(dir, "supabase/fedjwt-adopted.json"), "utf8"));
    expect(manifest.template.version).toBe(JSON.parse(readFileSync(join(TEMPLATE, "packages/cli/package.json"), "utf8")).version);
    expect(manifest.function).toBe("rest");
    expect(Object.keys(manifest.files).sort()).toEqual(out.files.map((f: { path: string }) => f.path).sort());
    const index = readFileSync(join(dir, "supabase/functions/rest/index.ts"));
    expect(manifest.files["supabase/functions/rest/index.ts"]).toBe(createHash("sha256").update(index).digest("hex"));
    expect(Object.values(manifest.migrations).map((m) => (m as { file: string }).file)).toEqual(
      out.migrations.map((m: { file: string }) => m.file),
    );
  });

  it("from an older template: unedited files updated, a new migration added, adopted ones not re-stamped", () => {
    const older = templateCopy();
    const handler = join(older, "packages/proxy/src/handler.ts");
    writeFileSync(handler, `${readFileSync(handler, "utf8")}\n// an older version\n`);
    // The newest migration adopt takes without --examples (an example migration may be newer still).
    const newest = readdirSync(join(older, "supabase/migrations"))
      .filter((f) => f.endsWith(".sql") && !f.includes("_example_"))
      .sort()
      .at(-1)!;
    rmSync(join(older, "supabase/migrations", newest)); // the older template did not have it yet
    writeFileSync(join(older, "packages/proxy/src/stale.ts"), "export const stale = 1;\n"); // one the newer no longer imports
    writeFileSync(
      join(older, "packages/proxy/src/index.ts"),
      `${readFileSync(join(TEMPLATE, "packages/proxy/src/index.ts"), "utf8")}export * from "./stale.ts";\n`,
    );
    const dir = project();
    expect(fedjwt(["adopt", dir, "--template", older]).code).toBe(0);
    const adoptedBefore = migrations(dir);
    expect(readFileSync(join(dir, "supabase/functions/_shared/fedjwt/proxy/handler.ts"), "utf8")).toContain("an older version");

    const r = fedjwt(["adopt", dir, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const status = Object.fromEntries(out.files.map((f: { path: string; status: string }) => [f.path, f.status]));
    expect(status["supabase/functions/_shared/fedjwt/proxy/handler.ts"]).toBe("update");
    expect(status["supabase/functions/_shared/fedjwt/proxy/index.ts"]).toBe("update");
    expect(status["supabase/functions/_shared/fedjwt/proxy/stale.ts"]).toBe("remove");
    expect(existsSync(join(dir, "supabase/functions/_shared/fedjwt/proxy/stale.ts"))).toBe(false);
    expect(readFileSync(join(dir, "supabase/functions/_shared/fedjwt/proxy/handler.ts"), "utf8")).toBe(
      readFileSync(join(TEMPLATE, "packages/proxy/src/handler.ts"), "utf8"),
    );
    const added = out.migrations.filter((m: { status: string }) => m.status === "create");
    expect(added.map((m: { template: string }) => m.template)).toEqual([newest]);
    expect(migrations(dir).slice(0, adoptedBefore.length)).toEqual(adoptedBefore); // never re-stamped
    expect(out.changed).toBe(true);
    expect(out.next).toEqual(["supabase db push --remote", "supabase functions deploy rest --use-api"]);

    const printed = fedjwt(["adopt", dir]).stdout; // and now it is up to date
    expect(printed.split("\n")[0]).toMatch(/^Nothing to change in /);
    expect(printed).not.toContain("Adopted");
    expect(printed).not.toContain("signing-key");
    expect(printed).not.toContain("Next, from the project folder");
  });

  it("refuses a file edited since it was adopted, by name, and writes nothing", () => {
    const older = templateCopy();
    for (const f of ["packages/proxy/src/handler.ts", "packages/signer/src/sign.ts"])
      writeFileSync(join(older, f), `${readFileSync(join(older, f), "utf8")}\n// an older version\n`);
    const dir = project();
    expect(fedjwt(["adopt", dir, "--template", older]).code).toBe(0);
    const edited = join(dir, "supabase/functions/_shared/fedjwt/proxy/handler.ts");
    writeFileSync(edited, `${readFileSync(edited, "utf8")}// my fix\n`);
    const before = tree(dir);
    const r = fedjwt(["adopt", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("supabase/functions/_shared/fedjwt/proxy/handler.ts was edited since it was adopted");
    expect(r.stderr).not.toContain("signer/sign.ts"); // unedited: it would have been updated
    expect(tree(dir)).toEqual(before);
  });

  it("an adoption made before the manifest: identical files are recorded; edited ones refused in one message naming each", () => {
    const dir = project();
    expect(fedjwt(["adopt", dir]).code).toBe(0);
    rmSync(join(dir, "supabase/fedjwt-adopted.json"));
    const again = JSON.parse(fedjwt(["adopt", dir, "--json"]).stdout);
    expect(again.adoption).toBe("pre-manifest");
    expect(again.changed).toBe(true); // the manifest, written now
    expect(again.next).toEqual([]);
    expect(existsSync(join(dir, "supabase/fedjwt-adopted.json"))).toBe(true);

    rmSync(join(dir, "supabase/fedjwt-adopted.json"));
    const edited = ["supabase/functions/_shared/fedjwt/signer/sign.ts", "supabase/functions/_shared/fedjwt/proxy/handler.ts"];
    for (const f of edited) appendFileSync(join(dir, f), "// my change\n");
    const before = tree(dir);
    const r = fedjwt(["adopt", dir]);
    expect(r.code).toBe(2);
    const refusals = r.stderr.split("\n").filter((l) => l.startsWith("  - "));
    expect(refusals).toHaveLength(1); // one message for the situation, not one line per file
    expect(refusals[0]).toContain("this project was adopted by an earlier fedjwt, before supabase/fedjwt-adopted.json existed");
    expect(refusals[0]).toContain(`${[...edited].sort().join(", ")} were edited`);
    expect(r.stderr).not.toContain("delete it and run adopt again");
    expect(tree(dir)).toEqual(before);
  });
});

describe("fedjwt adopt trusts no manifest beyond the folders it adopts", () => {
  const sha = (text: string) => createHash("sha256").update(text).digest("hex");
  /** An adopted project whose manifest also lists `extra` (path → current content's sha256). */
  function craft(extra: (dir: string) => Record<string, string>): { dir: string; before: Record<string, string> } {
    const dir = project();
    expect(fedjwt(["adopt", dir]).code).toBe(0);
    const path = join(dir, "supabase/fedjwt-adopted.json");
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    Object.assign(manifest.files, extra(dir));
    writeFileSync(path, JSON.stringify(manifest));
    return { dir, before: tree(dir) };
  }

  it.each([
    ["a file outside the project (../)", (dir: string) => `../${dir.split("/").pop()}-victim.txt`],
    ["an absolute path", (dir: string) => `${dir}-victim.txt`],
    ["a file of the project's own, outside the adopted folders", () => "src/app.ts"],
    ["the signing key", () => "keys/supabase-signing-key.json"],
    ["a migration", () => "supabase/migrations/20270101120000_profiles.sql"],
    ["a path that climbs out of an adopted folder", () => "supabase/functions/rest/../../../src/app.ts"],
    ["another function's file", () => "supabase/functions/other/index.ts"],
  ])("a manifest listing %s as adopted: refused, nothing removed or written", (_label, listed) => {
    let victim = "";
    const { dir, before } = craft((d) => {
      const rel = listed(d);
      victim = rel.startsWith("/") ? rel : join(d, rel);
      mkdirSync(dirname(victim), { recursive: true });
      writeFileSync(victim, "precious\n");
      return { [rel]: sha("precious\n") };
    });
    const r = fedjwt(["adopt", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("supabase/fedjwt-adopted.json is not a manifest fedjwt adopt wrote");
    expect(r.stderr).toContain(JSON.stringify(listed(dir)));
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(tree(dir)).toEqual(before);
  });

  it.each([
    ["files: null", { files: null }],
    ["migrations: null", { migrations: null }],
    ["files as a list", { files: ["supabase/functions/rest/index.ts"] }],
    ["a hash that is no sha256", { files: { "supabase/functions/rest/index.ts": 5 } }],
    ["a migration record without its sha256", { migrations: { "20261129000100_federation_helpers.sql": { file: "x.sql" } } }],
    ["a function name that is no name", { function: "../../x" }],
    ["a function name that is not a string", { function: 5 }],
    ["not an object", null],
  ])("a malformed manifest (%s): refused with bad_manifest's message, not a crash", (_label, change) => {
    const dir = project();
    expect(fedjwt(["adopt", dir]).code).toBe(0);
    const path = join(dir, "supabase/fedjwt-adopted.json");
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    writeFileSync(path, JSON.stringify(change === null ? null : { ...manifest, ...change }));
    const before = tree(dir);
    const r = fedjwt(["adopt", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^fedjwt adopt: supabase\/fedjwt-adopted\.json is not a manifest fedjwt adopt wrote/);
    expect(r.stderr).not.toContain("unexpected failure");
    expect(tree(dir)).toEqual(before);
  });
});

describe("fedjwt adopt --function", () => {
  it.each([
    ["its own index.ts", (fn: string) => writeFileSync(join(fn, "index.ts"), "Deno.serve(() => new Response('mine'));\n")],
    ["no index.ts (another entrypoint)", (fn: string) => writeFileSync(join(fn, "main.ts"), "Deno.serve(() => new Response('mine'));\n")],
  ])(
    "a project with a rest function of its own (%s, no config block): one message that leads with --function, never 'delete'; its verify_jwt untouched",
    (_label, make) => {
      const dir = project();
      mkdirSync(join(dir, "supabase/functions/rest"), { recursive: true });
      make(join(dir, "supabase/functions/rest"));
      const before = tree(dir);
      for (const args of [
        ["adopt", dir],
        ["adopt", dir, "--dry-run"],
      ]) {
        const r = fedjwt(args);
        expect(r.code).toBe(2);
        const out = `${r.stdout}${r.stderr}`;
        const refusals = out.split("\n").filter((l) => l.startsWith("  - "));
        expect(refusals).toHaveLength(1);
        expect(refusals[0]).toMatch(
          /^ {2}- supabase\/functions\/rest is a function of your own \([^)]*\): adopt the gateway under another name, e\.g\. `fedjwt adopt .* --function writers`/,
        );
        expect(out).not.toMatch(/delete/i);
      }
      expect(tree(dir)).toEqual(before); // no [functions.rest] block with verify_jwt = false was added
    },
  );

  it("adopts under another name: its folder, its config block, its name wired into index.ts and the deploy command", () => {
    const dir = project();
    mkdirSync(join(dir, "supabase/functions/rest"), { recursive: true });
    writeFileSync(join(dir, "supabase/functions/rest/index.ts"), "Deno.serve(() => new Response('mine'));\n");
    const r = fedjwt(["adopt", dir, "--function", "writers", "--json"]);
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout);
    expect(out.function).toBe("writers");
    expect(out.next).toContain("supabase functions deploy writers --use-api");
    expect(readFileSync(join(dir, "supabase/functions/rest/index.ts"), "utf8")).toContain("mine");
    const index = readFileSync(join(dir, "supabase/functions/writers/index.ts"), "utf8");
    expect(index).toContain('Deno.env.get(name) ?? (name === "FEDJWT_FUNCTION_NAME" ? "writers" : undefined)');
    expect(index).toContain("// Deploy: supabase functions deploy writers --use-api");
    expect(readFileSync(join(dir, "supabase/config.toml"), "utf8")).toContain(
      '[functions.writers]\nenabled = true\n# Writers\' tokens are verified by the function against the key registry, not by the gateway.\nverify_jwt = false\nimport_map = "./functions/writers/deno.json"\nentrypoint = "./functions/writers/index.ts"\n',
    );
    // A re-run remembers the name; another name is refused.
    const again = JSON.parse(fedjwt(["adopt", dir, "--json"]).stdout);
    expect({ function: again.function, changed: again.changed }).toEqual({ function: "writers", changed: false });
    const other = fedjwt(["adopt", dir, "--function", "gateway"]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain("this project adopted the function as writers");
  });

  it.each(["_shared", "1abc", "a/b", "a b"])("refuses --function %j", (name) => {
    const r = fedjwt(["adopt", project(), "--function", name]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("a function name is a letter, then letters, digits, _ or -");
  });
});

describe("what adopt prints", () => {
  it("the signing-key step keeps the private key to its owner (umask 077), and index.ts's deploy line is the one printed", () => {
    const dir = project();
    const out = JSON.parse(fedjwt(["adopt", dir, "--json"]).stdout);
    const step = out.next.find((c: string) => c.includes("gen signing-key"));
    expect(step).toMatch(/^\(umask 077 && set -C && mkdir -p keys && supabase gen signing-key .* > keys\/supabase-signing-key\.json\)$/);
    // Run it with a stand-in `supabase` that prints a JWK: the file is 600, its folder 700.
    const bin = tempDir();
    writeFileSync(join(bin, "supabase"), '#!/bin/sh\necho \'{"kty":"EC"}\'\n', { mode: 0o755 });
    const sh = spawnSync("sh", ["-c", `umask 022; ${step}`], { cwd: dir, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    expect(sh.status).toBe(0);
    expect(statSync(join(dir, "keys/supabase-signing-key.json")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "keys")).mode & 0o777).toBe(0o700);
    const deploy = out.next.find((c: string) => c.startsWith("supabase functions deploy"));
    expect(readFileSync(join(dir, "supabase/functions/rest/index.ts"), "utf8")).toContain(`// Deploy: ${deploy} (`);
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
