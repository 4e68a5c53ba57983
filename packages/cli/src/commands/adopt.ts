import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join, posix, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "../errors.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";

const GITIGNORE_ENTRIES = ["keys/", "*.key", "*.pem", "supabase/signing_keys.json", "supabase/functions/.env", ".env.local"];

const flags = {
  template: { type: "string", value: "<dir>", description: "the template checkout to copy from (default: the one this fedjwt belongs to)" },
  examples: {
    type: "boolean",
    default: false,
    description: "also adopt the example tables (widgets, orders, stock levels) and their policies",
  },
  json: { type: "boolean", default: false, description: "print what was done as JSON" },
} as const satisfies FlagSpecs;

/** `fedjwt adopt`: its flags, help and runner. */
export const adoptCommand = defineCommand({
  name: "adopt",
  summary: "add the rest function, its migrations and config to an existing Supabase project",
  usage: ["<project> [--template <dir>] [--examples] [--json]"],
  description: `Add the federated-writers gateway to an existing Supabase project (a folder with supabase/config.toml, as
\`supabase init\` makes it). Writes into <project>:
  supabase/functions/rest/index.ts, deno.json   the \`rest\` Edge Function, its imports pointing at
  supabase/functions/_shared/fedjwt/<package>/   the proxy and signer sources it imports (nothing else)
  supabase/migrations/<new timestamp>_<name>.sql the template's migrations (registry, helpers; no examples
                                                 unless --examples), stamped after the project's last one
  supabase/config.toml                           a [functions.rest] block (verify_jwt = false)
  .gitignore                                     what it lacks of ${GITIGNORE_ENTRIES.slice(0, 3).join(", ")},
                                                 ${GITIGNORE_ENTRIES.slice(3).join(", ")}
Then prints the commands that deploy it (supabase db push --remote, secrets, functions deploy) and register
a first writer (fedjwt keygen, fedjwt register), and what an adopted migration changes in your own objects:
…_writer_function_privileges revokes PUBLIC's EXECUTE on the functions already in your public schema.

Safe to run again: files already adopted unchanged are left alone, template migrations already adopted
are recognised by their header and never re-stamped, and new template migrations are added. Refuses, and
writes nothing, where it would overwrite or contradict a file of the project's own.`,
  flags,
  positionals: "<project>",
  examples: ["fedjwt adopt ../my-app", "fedjwt adopt ../my-app --examples --json"],
  run: ({ values, positionals }, io) => adopt(values, positionals, io),
});

/** What one adopted file is: written now, or already there with the same content. */
interface Planned {
  path: string;
  content: string;
  status: "create" | "unchanged";
}

/** The marker that ties an adopted migration to its template file, so re-runs recognise it. */
const MIGRATION_MARKER = "-- fedjwt adopt: from template migration ";
const EXAMPLE_MIGRATION = /_example_/;
const FUNCTION_BLOCK = `[functions.rest]
enabled = true
# Writers' tokens are verified by the function against the key registry, not by the gateway.
verify_jwt = false
import_map = "./functions/rest/deno.json"
entrypoint = "./functions/rest/index.ts"
`;

/** Finds the template checkout this CLI belongs to: the nearest folder above it with the function and proxy. */
export function findTemplateRoot(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, "supabase", "functions", "rest", "index.ts")) && existsSync(join(dir, "packages", "proxy", "src"))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError("file_unreadable", `cannot read ${path}`, 1);
  }
}

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm;

/** The specifiers a TypeScript module imports or re-exports. */
export function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT_RE)) {
    const s = m[1] ?? m[2] ?? m[3];
    if (s) out.push(s);
  }
  return out;
}

interface LocalPackage {
  /** Import-map key, e.g. @fedjwt/proxy. */
  name: string;
  /** Folder name under _shared/fedjwt, e.g. proxy. */
  folder: string;
  /** The package's source folder in the template. */
  srcDir: string;
  /** Entry file in the template. */
  entry: string;
}

/**
 * The function's files and the local package sources it imports: follows the import graph from index.ts
 * through the template deno.json's local import-map entries and relative imports.
 */
async function functionGraph(
  template: string,
): Promise<{ packages: LocalPackage[]; files: Map<string, LocalPackage | undefined>; imports: Record<string, string> }> {
  const fnDir = join(template, "supabase", "functions", "rest");
  const denoJson = JSON.parse(await readFile(join(fnDir, "deno.json"), "utf8")) as { imports?: Record<string, string> };
  const imports = denoJson.imports ?? {};
  const packages: LocalPackage[] = [];
  for (const [name, target] of Object.entries(imports)) {
    if (!target.startsWith(".")) continue;
    const entry = resolve(fnDir, target);
    const srcDir = dirname(entry);
    const folder = basename(srcDir) === "src" ? basename(dirname(srcDir)) : basename(srcDir);
    packages.push({ name, folder, srcDir, entry });
  }
  const files = new Map<string, LocalPackage | undefined>();
  const queue: Array<[string, LocalPackage | undefined]> = [[join(fnDir, "index.ts"), undefined]];
  while (queue.length > 0) {
    const [file, pkg] = queue.pop()!;
    if (files.has(file)) continue;
    files.set(file, pkg);
    const source = await readOptional(file);
    if (source === undefined) throw new CliError("template_broken", `the template's function imports ${file}, which does not exist`, 1);
    for (const spec of importSpecifiers(source)) {
      if (spec.startsWith("./") || spec.startsWith("../")) {
        const target = resolve(dirname(file), spec);
        if (pkg && !target.startsWith(pkg.srcDir + sep))
          throw new CliError("template_broken", `${file} imports ${spec}, outside its package`, 1);
        queue.push([target, pkg]);
      } else {
        const local = packages.find((p) => p.name === spec);
        if (local) queue.push([local.entry, local]);
      }
    }
  }
  return { packages, files, imports };
}

function versionOf(file: string): string | undefined {
  return /^(\d+)_.*\.sql$/.exec(file)?.[1];
}

/** The next migration version after `last`: now (UTC, YYYYMMDDHHMMSS) or one second after `last`, whichever is later. */
export function nextVersion(last: string | undefined, now: Date): string {
  const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const current = stamp(now);
  if (last === undefined || BigInt(last) < BigInt(current)) return current;
  if (/^\d{14}$/.test(last)) {
    const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((i, k) => Number(last.slice(i, i + (k === 0 ? 4 : 2))));
    const t = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) + 1000);
    if (!Number.isNaN(t.getTime()) && stamp(t) > last) return stamp(t);
  }
  return (BigInt(last) + 1n).toString();
}

function gitignoreAdditions(existing: string | undefined): string[] {
  const have = new Set((existing ?? "").split(/\r?\n/).map((l) => l.trim()));
  return GITIGNORE_ENTRIES.filter((e) => !have.has(e) && !have.has(`/${e}`));
}

/** The [functions.rest] table's body in config.toml, or undefined when there is none. */
function functionRestBlock(toml: string): string | undefined {
  const m = /^\[functions\.rest\][ \t]*(?:#.*)?\r?\n([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(toml);
  return m?.[1];
}

function tomlValue(block: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*=\\s*("?)([^"\\n#]*)\\1`, "m").exec(block)?.[2]?.trim();
}

/** `fedjwt adopt`: adds the function, its sources, the migrations, config and .gitignore entries to a project. */
export async function adopt(values: FlagValues<typeof flags>, positionals: string[], io: Io, now: Date = new Date()): Promise<void> {
  if (positionals.length !== 1) throw new CliError("bad_arguments", "give exactly one project folder (see: fedjwt adopt --help)");
  const project = resolve(positionals[0]!);
  const supabaseDir = join(project, "supabase");
  const configPath = join(supabaseDir, "config.toml");
  const config = await readOptional(configPath);
  if (config === undefined) {
    const hint =
      basename(project) === "supabase" && existsSync(join(project, "config.toml"))
        ? `; give its parent folder, ${dirname(project)}`
        : "; run `supabase init` there first";
    throw new CliError("not_a_project", `${project} has no supabase/config.toml${hint}`);
  }
  const template = values.template !== undefined ? resolve(values.template) : findTemplateRoot();
  if (template === undefined || !existsSync(join(template, "supabase", "functions", "rest", "index.ts"))) {
    throw new CliError(
      "no_template",
      `cannot find the template (a folder with supabase/functions/rest and packages/proxy)${values.template !== undefined ? ` at ${template}` : ""}; pass --template <dir>`,
    );
  }
  if (resolve(template) === project)
    throw new CliError("bad_arguments", "the project is the template itself; give the path of another project");

  // 1. The function and the sources it imports.
  const { packages, files, imports } = await functionGraph(template);
  const fnOut = join(supabaseDir, "functions", "rest");
  const sharedOut = join(supabaseDir, "functions", "_shared", "fedjwt");
  const planned: Planned[] = [];
  const conflicts: string[] = [];
  const plan = async (path: string, content: string) => {
    const existing = await readOptional(path);
    if (existing === undefined) planned.push({ path, content, status: "create" });
    else if (existing === content) planned.push({ path, content, status: "unchanged" });
    else conflicts.push(`${relative(project, path)} exists with other content`);
  };
  for (const [file, pkg] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    let content = await readFile(file, "utf8");
    if (!pkg) {
      content = content.replace("All logic lives in packages/proxy", "All logic lives in ../_shared/fedjwt/proxy");
      await plan(join(fnOut, relative(join(template, "supabase", "functions", "rest"), file)), content);
    } else {
      await plan(join(sharedOut, pkg.folder, relative(pkg.srcDir, file)), content);
    }
  }
  const rewritten: Record<string, string> = {};
  for (const [name, target] of Object.entries(imports)) {
    const pkg = packages.find((p) => p.name === name);
    rewritten[name] = pkg ? `../_shared/fedjwt/${pkg.folder}/${relative(pkg.srcDir, pkg.entry).split(sep).join(posix.sep)}` : target;
  }
  await plan(join(fnOut, "deno.json"), `${JSON.stringify({ imports: rewritten }, null, 2)}\n`);

  // 2. Migrations: recognised by their marker, new ones stamped after the project's last migration.
  const migrationsDir = join(supabaseDir, "migrations");
  const ownNames = existsSync(migrationsDir) ? (await readdir(migrationsDir)).filter((f) => f.endsWith(".sql")).sort() : [];
  const adopted = new Map<string, { file: string; body: string }>();
  for (const f of ownNames) {
    const text = await readFile(join(migrationsDir, f), "utf8");
    const first = text.split("\n", 1)[0]!;
    if (first.startsWith(MIGRATION_MARKER))
      adopted.set(first.slice(MIGRATION_MARKER.length).trim(), { file: f, body: text.slice(first.length + 1) });
  }
  const templateMigrations = (await readdir(join(template, "supabase", "migrations")))
    .filter((f) => versionOf(f) !== undefined && (values.examples || !EXAMPLE_MIGRATION.test(f)))
    .sort();
  let last = ownNames
    .map(versionOf)
    .filter((v): v is string => v !== undefined)
    .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
    .at(-1);
  const migrations: Array<{ template: string; file: string; status: "create" | "unchanged" }> = [];
  for (const t of templateMigrations) {
    const body = await readFile(join(template, "supabase", "migrations", t), "utf8");
    const prior = adopted.get(t);
    if (prior) {
      if (prior.body === body) migrations.push({ template: t, file: prior.file, status: "unchanged" });
      else
        conflicts.push(
          `supabase/migrations/${prior.file} (adopted from ${t}) differs from the template's; migrations that may be applied are never rewritten — undo your edit, or add the change as a new migration`,
        );
      continue;
    }
    last = nextVersion(last, now);
    const file = `${last}_${t.slice(versionOf(t)!.length + 1)}`;
    migrations.push({ template: t, file, status: "create" });
    planned.push({ path: join(migrationsDir, file), content: `${MIGRATION_MARKER}${t}\n${body}`, status: "create" });
  }

  // 3. config.toml: [functions.rest], added or checked.
  const block = functionRestBlock(config);
  let configStatus: "added" | "present";
  if (block === undefined) configStatus = "added";
  else {
    configStatus = "present";
    const verify = tomlValue(block, "verify_jwt");
    const entrypoint = tomlValue(block, "entrypoint");
    const importMap = tomlValue(block, "import_map");
    if (verify !== "false")
      conflicts.push(
        "supabase/config.toml has a [functions.rest] block without verify_jwt = false (writers' tokens are not Supabase Auth tokens; the function verifies them)",
      );
    if (entrypoint !== undefined && entrypoint !== "./functions/rest/index.ts")
      conflicts.push(`supabase/config.toml's [functions.rest] entrypoint is ${entrypoint}, not ./functions/rest/index.ts`);
    if (importMap !== undefined && importMap !== "./functions/rest/deno.json")
      conflicts.push(`supabase/config.toml's [functions.rest] import_map is ${importMap}, not ./functions/rest/deno.json`);
  }

  if (conflicts.length > 0) {
    throw new CliError("would_overwrite", `refusing to change ${project}; nothing was written:\n  - ${conflicts.join("\n  - ")}`);
  }

  // Everything checked: write.
  for (const p of planned.filter((x) => x.status === "create")) {
    try {
      await mkdir(dirname(p.path), { recursive: true });
      await writeFile(p.path, p.content, { flag: "wx" });
    } catch (e) {
      throw new CliError("file_unwritable", `cannot write ${p.path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`, 1);
    }
  }
  if (configStatus === "added") {
    await writeFile(configPath, `${config.endsWith("\n") ? config : `${config}\n`}\n${FUNCTION_BLOCK}`);
  }
  const gitignorePath = join(project, ".gitignore");
  const gitignore = await readOptional(gitignorePath);
  const ignored = gitignoreAdditions(gitignore);
  if (ignored.length > 0) {
    const prefix = gitignore === undefined || gitignore === "" ? "" : gitignore.endsWith("\n") ? "\n" : "\n\n";
    await writeFile(
      gitignorePath,
      `${gitignore ?? ""}${prefix}# fedjwt: private keys and secrets never go to git\n${ignored.join("\n")}\n`,
    );
  }

  // docs/deployment.md runs these same lines (the adoption test compares them).
  const next = [
    "supabase link --project-ref <ref>",
    "supabase db push --remote",
    "mkdir -p keys && supabase gen signing-key --algorithm ES256 > keys/supabase-signing-key.json",
    'supabase secrets set FEDJWT_AUDIENCE=https://<ref>.supabase.co FEDJWT_SIGNING_JWK="$(cat keys/supabase-signing-key.json)"',
    "supabase functions deploy rest --use-api",
    "fedjwt keygen --issuer <issuer> --target https://<ref>.supabase.co",
    'fedjwt register --url https://<ref>.supabase.co --service-role-key "$SUPABASE_SECRET_KEY" --issuer <issuer> --public-key keys/<issuer>-<ref>.pub --allowed-role <role>',
  ];
  // What an adopted migration changes in the project's own objects (the README's adoption section says the same).
  const notes: string[] = [];
  const revoking = migrations.find((m) => m.template.endsWith("_writer_function_privileges.sql"));
  if (revoking)
    notes.push(
      `${revoking.file} revokes PUBLIC's EXECUTE on your functions in public: anon and authenticated keep it through Supabase's default privileges on functions created by postgres; for one they reached only through PUBLIC, add grant execute on function public.<f>(…) to anon, authenticated`,
    );
  const memberships = migrations.find((m) => m.template.endsWith("_writer_role_memberships.sql") && m.status === "create");
  if (memberships && adopted.size > 0)
    notes.push(
      `${memberships.file} makes a writer role that owns a table, function or schema, or can take a pg_*, supabase_* or LOGIN role's privileges, no longer a writer role: its issuers are refused (db_role_refused) until you take those away`,
    );
  const result = {
    project,
    template,
    files: planned
      .filter((p) => !p.path.startsWith(migrationsDir + sep))
      .map((p) => ({ path: relative(project, p.path), status: p.status })),
    migrations,
    config: configStatus,
    gitignore: ignored,
    next,
    notes,
  };
  if (values.json) {
    printJson(io, result);
    return;
  }
  const created = result.files.filter((f) => f.status === "create").length;
  const newMigrations = migrations.filter((m) => m.status === "create");
  io.out(
    [
      `Adopted the rest function into ${project}`,
      `  function files   ${created} written, ${result.files.length - created} already up to date (supabase/functions/rest, supabase/functions/_shared/fedjwt)`,
      `  migrations       ${newMigrations.length} added${newMigrations.length ? `: ${newMigrations.map((m) => m.file).join(", ")}` : ""}; ${migrations.length - newMigrations.length} already adopted`,
      `  config.toml      [functions.rest] ${configStatus === "added" ? "added (verify_jwt = false)" : "already present"}`,
      `  .gitignore       ${ignored.length ? `added ${ignored.join(" ")}` : "already ignores keys and secrets"}`,
      ...notes.map((n) => `Note: ${n}.`),
      "",
      "Next, from the project folder:",
      ...next.map((c) => `  ${c}`),
      "",
      "(fedjwt = this CLI, e.g. node <path>/fedjwt.mjs; <issuer>: a writer's name, <role>: an application role it may request.)",
      "Import keys/supabase-signing-key.json into the project (Dashboard → JWT Keys) before the function uses it.",
      "keys/<issuer>-<ref>.key is the writer's private key: give it to that writer only.",
      "`db push --remote` targets the linked project (plain `db push` targets the local stack); add --yes in scripts.",
      'If it stops with "Found local migration files to be inserted before the last migration on remote database",',
      "the hosted project has migrations newer than these files: rerun it with --include-all to apply them anyway.",
      "On the legacy JWT secret instead of signing keys: set FEDJWT_LEGACY_JWT_SECRET (Settings → JWT) instead of FEDJWT_SIGNING_JWK.",
    ].join("\n"),
  );
}
