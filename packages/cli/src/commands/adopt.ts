import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, readlink, realpath, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, posix, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "../errors.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";

/** Where adopt records what it adopted, relative to the project. */
export const MANIFEST = "supabase/fedjwt-adopted.json";

const GITIGNORE_ENTRIES = ["keys/", "*.key", "*.pem", "supabase/signing_keys.json", "supabase/functions/.env", ".env.local"];

const flags = {
  template: { type: "string", value: "<dir>", description: "the template checkout to copy from (default: the one this fedjwt belongs to)" },
  examples: {
    type: "boolean",
    default: false,
    description: "also adopt the example tables (widgets, orders, stock levels) and their policies",
  },
  function: {
    type: "string",
    value: "<name>",
    description:
      "the function's name (default: rest, or the name recorded by an earlier adoption), for a project that already has a function called rest",
  },
  json: { type: "boolean", default: false, description: "print what was done as JSON" },
} as const satisfies FlagSpecs;

/** `fedjwt adopt`: its flags, help and runner. */
export const adoptCommand = defineCommand({
  name: "adopt",
  summary: "add the rest function, its migrations and config to an existing Supabase project",
  usage: ["<project> [--template <dir>] [--examples] [--function <name>] [--json]"],
  description: `Add the federated-writers gateway to an existing Supabase project (a folder with supabase/config.toml, as
\`supabase init\` makes it). Writes into <project> (<name> = rest unless --function says otherwise):
  supabase/functions/<name>/index.ts, deno.json the Edge Function, its imports pointing at
  supabase/functions/_shared/fedjwt/<package>/   the proxy and signer sources it imports (nothing else)
  supabase/migrations/<new timestamp>_<name>.sql the template's migrations (registry, helpers; no examples
                                                 unless --examples), stamped after the project's last one
  supabase/config.toml                           a [functions.<name>] block (verify_jwt = false)
  .gitignore                                     what it lacks of ${GITIGNORE_ENTRIES.slice(0, 3).join(", ")},
                                                 ${GITIGNORE_ENTRIES.slice(3).join(", ")}
  ${MANIFEST}                     what it adopted: the template's version and commit, and
                                                 the sha256 of every file it wrote
Then prints the commands that deploy it (supabase db push --remote, secrets, functions deploy) and register
a first writer (fedjwt keygen, fedjwt register), and what an adopted migration changes in your own objects:
…_writer_function_privileges revokes PUBLIC's EXECUTE on the functions already in your public schema, and
…_writer_function_default_privileges on the functions postgres creates later, in every schema.

Run it again to upgrade (docs/upgrading.md): a file still as it was adopted (its recorded sha256) is
updated to the template's, new template migrations are added, and adopted migrations are never rewritten
or re-stamped (recognised by their header). Refuses, names each file, and writes nothing where it would
overwrite a file you edited or one of your own, contradict your config.toml, or write outside the project
(a symbolic link that leads out of it). A name other than rest is wired into the adopted index.ts
(FEDJWT_FUNCTION_NAME's default there).`,
  flags,
  positionals: "<project>",
  examples: ["fedjwt adopt ../my-app", "fedjwt adopt ../my-app --examples --json"],
  run: ({ values, positionals }, io) => adopt(values, positionals, io),
});

/** What one adopted file is: written now, updated (unedited since adopted), already as the template has it, or removed. */
interface Planned {
  path: string;
  content: string;
  status: "create" | "update" | "unchanged" | "remove";
}

/** The manifest: what the template was, and the sha256 of every file adopt wrote (paths relative to the project). */
interface Manifest {
  manifest: 1;
  template: { version: string | null; commit: string | null };
  function: string;
  files: Record<string, string>;
  migrations: Record<string, { file: string; sha256: string }>;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The template's version (its CLI package's) and git commit, when it is a git checkout. */
async function templateVersion(template: string): Promise<Manifest["template"]> {
  const pkg = await readOptional(join(template, "packages", "cli", "package.json"));
  let version: string | null = null;
  try {
    version = pkg ? ((JSON.parse(pkg) as { version?: string }).version ?? null) : null;
  } catch {}
  const git = spawnSync("git", ["-C", template, "rev-parse", "HEAD"], { encoding: "utf8" });
  const commit = git.status === 0 && /^[0-9a-f]{40}$/.test(git.stdout.trim()) ? git.stdout.trim() : null;
  return { version, commit };
}

/**
 * Where `path` really leads: every symbolic link on the way resolved, through the deepest ancestor that
 * exists (a dangling link is followed to where it points).
 */
export async function realTarget(path: string, hops = 0): Promise<string> {
  if (hops > 40) throw new CliError("outside_project", `${path}: too many symbolic links`);
  try {
    return await realpath(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new CliError("outside_project", `${path}: a loop of symbolic links`);
    if (code !== "ENOENT" && code !== "ENOTDIR") throw new CliError("file_unreadable", `cannot resolve ${path}: ${code ?? "error"}`, 1);
  }
  const link = await lstat(path).catch(() => undefined);
  if (link?.isSymbolicLink()) return realTarget(resolve(dirname(path), await readlink(path)), hops + 1);
  const parent = dirname(path);
  return parent === path ? path : join(await realTarget(parent, hops), basename(path));
}

const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

/** The marker that ties an adopted migration to its template file, so re-runs recognise it. */
const MIGRATION_MARKER = "-- fedjwt adopt: from template migration ";
const EXAMPLE_MIGRATION = /_example_/;
const functionBlock = (name: string) => `[functions.${name}]
enabled = true
# Writers' tokens are verified by the function against the key registry, not by the gateway.
verify_jwt = false
import_map = "./functions/${name}/deno.json"
entrypoint = "./functions/${name}/index.ts"
`;

/** What adopt reads from a template checkout: a folder with these is a template (a copy of them too). */
export const TEMPLATE_PARTS = [
  "supabase/functions/rest",
  "supabase/migrations",
  "packages/proxy/src",
  "packages/signer/src",
  "packages/cli/package.json",
] as const;

const isTemplate = (dir: string) => TEMPLATE_PARTS.every((part) => existsSync(join(dir, part)));

/** Finds the template checkout this CLI belongs to: the nearest folder above it with the parts adopt reads. */
export function findTemplateRoot(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (;;) {
    if (isTemplate(dir)) return dir;
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

/** The [functions.<name>] table's body in config.toml, or undefined when there is none. */
function functionBlockOf(toml: string, name: string): string | undefined {
  const m = new RegExp(`^\\[functions\\.${name}\\][ \\t]*(?:#.*)?\\r?\\n([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, "m").exec(toml);
  return m?.[1];
}

function tomlValue(block: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*=\\s*("?)([^"\\n#]*)\\1`, "m").exec(block)?.[2]?.trim();
}

const SHA256 = /^[0-9a-f]{64}$/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The manifest in `text`, checked before anything trusts it: a function name, sha256 hashes, and only files adopt
 * writes (in the function's folder or _shared/fedjwt, spelled without `.`, `..` or a backslash), since an upgrade deletes
 * the unedited files it lists. Anything else is bad_manifest, naming what is wrong.
 */
export function parseManifest(text: string): Manifest {
  const bad = (why: string) =>
    new CliError("bad_manifest", `${MANIFEST} is not a manifest fedjwt adopt wrote (${why}); restore it from version control`);
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  if (!isRecord(m) || m.manifest !== 1) throw bad('no "manifest": 1');
  const name = m.function;
  if (typeof name !== "string" || !FUNCTION_NAME.test(name) || name === "_shared")
    throw bad(`its function, ${JSON.stringify(name)}, is not a function name`);
  if (!isRecord(m.files)) throw bad("its files are not an object");
  const folders = [`supabase/functions/${name}/`, "supabase/functions/_shared/fedjwt/"];
  for (const [path, hash] of Object.entries(m.files)) {
    const plain = !path.includes("\\") && path.split("/").every((part) => part !== "" && part !== "." && part !== "..");
    if (!plain || !folders.some((f) => path.startsWith(f)))
      throw bad(`it lists ${JSON.stringify(path)}, not a file adopt writes (those are in ${folders.join(" and ")})`);
    if (typeof hash !== "string" || !SHA256.test(hash)) throw bad(`the sha256 it records for ${JSON.stringify(path)} is not one`);
  }
  if (!isRecord(m.migrations)) throw bad("its migrations are not an object");
  for (const [t, r] of Object.entries(m.migrations))
    if (!isRecord(r) || typeof r.file !== "string" || typeof r.sha256 !== "string" || !SHA256.test(r.sha256))
      throw bad(`its record of the migration ${JSON.stringify(t)} has no file and sha256`);
  return m as unknown as Manifest;
}

/** `fedjwt adopt`: adds the function, its sources, the migrations, config and .gitignore entries to a project, or upgrades them. */
export async function adopt(values: FlagValues<typeof flags>, positionals: string[], io: Io, now: Date = new Date()): Promise<void> {
  if (positionals.length !== 1) throw new CliError("bad_arguments", "give exactly one project folder (see: fedjwt adopt --help)");
  const given = resolve(positionals[0]!);
  const project = existsSync(given) ? await realpath(given) : given;
  const supabaseDir = join(project, "supabase");
  const configPath = join(supabaseDir, "config.toml");

  // Every path adopt reads or writes must really be inside the project, symbolic links resolved.
  const outside = new Map<string, string>();
  const inside = async (path: string): Promise<boolean> => {
    const real = await realTarget(path);
    if (real === project || real.startsWith(project + sep)) return true;
    outside.set(relative(project, path), real);
    return false;
  };
  const refuseOutside = () => {
    if (outside.size > 0)
      throw new CliError(
        "outside_project",
        `refusing to change ${project}; nothing was written: these lead outside the project through symbolic links:\n  - ${[...outside]
          .map(([p, real]) => `${p} → ${real}`)
          .join("\n  - ")}`,
      );
  };
  const config = (await inside(configPath)) ? await readOptional(configPath) : undefined;
  refuseOutside();
  if (config === undefined) {
    const hint =
      basename(project) === "supabase" && existsSync(join(project, "config.toml"))
        ? `; give its parent folder, ${dirname(project)}`
        : "; run `supabase init` there first";
    throw new CliError("not_a_project", `${project} has no supabase/config.toml${hint}`);
  }
  const template = values.template !== undefined ? resolve(values.template) : findTemplateRoot();
  if (template === undefined || !isTemplate(template)) {
    throw new CliError(
      "no_template",
      `cannot find the template (a folder with ${TEMPLATE_PARTS.join(", ")})${values.template !== undefined ? ` at ${template}` : ""}; pass --template <dir>`,
    );
  }
  if ((await realpath(template)) === project)
    throw new CliError("bad_arguments", "the project is the template itself; give the path of another project");

  // What an earlier run recorded.
  const manifestPath = join(project, MANIFEST);
  const manifestText = (await inside(manifestPath)) ? await readOptional(manifestPath) : undefined;
  const manifest = manifestText === undefined ? undefined : parseManifest(manifestText);
  const name = values.function ?? manifest?.function ?? "rest";
  if (!FUNCTION_NAME.test(name) || name === "_shared")
    throw new CliError("bad_arguments", `--function ${JSON.stringify(name)}: a function name is a letter, then letters, digits, _ or -`);
  if (manifest && values.function !== undefined && values.function !== manifest.function)
    throw new CliError(
      "would_overwrite",
      `this project adopted the function as ${manifest.function} (${MANIFEST}); run adopt without --function, or with --function ${manifest.function}`,
    );
  const renamed = name === "rest" ? "" : ` (a function of yours already called ${name}? adopt it under another name: --function <name>)`;
  const ownRest = name === "rest" ? " (a function of yours called rest? adopt it under another name: --function <name>)" : renamed;

  // 1. The function and the sources it imports.
  const { packages, files, imports } = await functionGraph(template);
  const fnOut = join(supabaseDir, "functions", name);
  const sharedOut = join(supabaseDir, "functions", "_shared", "fedjwt");
  const planned: Planned[] = [];
  const conflicts: string[] = [];
  const noRecord =
    "no record of adopting it" +
    (manifest ? "" : ` (no ${MANIFEST}: adopted by an older fedjwt, or a file of yours)`) +
    "; if you never edited it, delete it and run adopt again, else move your changes aside first";
  const plan = async (path: string, content: string) => {
    if (!(await inside(path))) return;
    const rel = relative(project, path);
    // Writing through a link would change (or fail on) the file it leads to, not one adopt wrote; a FIFO or a
    // device would never end the read; a file with other hard links would change under its other names too.
    const kind = await lstat(path).catch(() => undefined);
    if (kind !== undefined && (!kind.isFile() || kind.nlink > 1)) {
      const what = kind.isSymbolicLink() ? "a symbolic link" : kind.isFile() ? "a file with other hard links" : "not a regular file";
      conflicts.push(`${rel} is ${what}; adopt writes only files of its own there: replace it with the file, or remove it`);
      return;
    }
    const existing = await readOptional(path);
    const recorded = manifest?.files[rel];
    if (existing === undefined) planned.push({ path, content, status: "create" });
    else if (existing === content) planned.push({ path, content, status: "unchanged" });
    else if (recorded !== undefined && sha256(existing) === recorded) planned.push({ path, content, status: "update" });
    else if (recorded !== undefined) conflicts.push(`${rel} was edited since it was adopted (its sha256 is not the one in ${MANIFEST})`);
    else conflicts.push(`${rel} exists with other content and ${noRecord}${rel.startsWith(`supabase/functions/${name}/`) ? ownRest : ""}`);
  };
  for (const [file, pkg] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    let content = await readFile(file, "utf8");
    if (!pkg) {
      content = adoptedIndex(content, name, relative(template, file));
      await plan(join(fnOut, relative(join(template, "supabase", "functions", "rest"), file)), content);
    } else {
      await plan(join(sharedOut, pkg.folder, relative(pkg.srcDir, file)), content);
    }
  }
  const rewritten: Record<string, string> = {};
  for (const [importName, target] of Object.entries(imports)) {
    const pkg = packages.find((p) => p.name === importName);
    rewritten[importName] = pkg ? `../_shared/fedjwt/${pkg.folder}/${relative(pkg.srcDir, pkg.entry).split(sep).join(posix.sep)}` : target;
  }
  await plan(join(fnOut, "deno.json"), `${JSON.stringify({ imports: rewritten }, null, 2)}\n`);
  // Files an earlier adoption wrote that the template no longer has: removed if unedited, else left and named.
  const leftAlone: string[] = [];
  for (const [rel, hash] of Object.entries(manifest?.files ?? {})) {
    const path = join(project, rel);
    if (planned.some((p) => p.path === path) || !(await inside(path))) continue;
    const kind = await lstat(path).catch(() => undefined);
    if (kind === undefined) continue;
    if (!kind.isFile()) {
      leftAlone.push(rel); // a link, a folder or a FIFO where adopt wrote a file: not adopt's to remove
      continue;
    }
    const existing = await readOptional(path);
    if (existing === undefined) continue;
    if (sha256(existing) === hash) planned.push({ path, content: existing, status: "remove" });
    else leftAlone.push(rel);
  }

  // 2. Migrations: recognised by their marker, new ones stamped after the project's last migration.
  const migrationsDir = join(supabaseDir, "migrations");
  const ownNames =
    (await inside(migrationsDir)) && existsSync(migrationsDir)
      ? (await readdir(migrationsDir)).filter((f) => f.endsWith(".sql")).sort()
      : [];
  const adopted = new Map<string, { file: string; text: string; body: string }>();
  for (const f of ownNames) {
    // Regular files only: a folder fails the read, a FIFO or a device (through a link) never ends it.
    if (!(await stat(join(migrationsDir, f)).catch(() => undefined))?.isFile()) continue;
    const text = await readFile(join(migrationsDir, f), "utf8");
    const first = text.split("\n", 1)[0]!;
    if (first.startsWith(MIGRATION_MARKER))
      adopted.set(first.slice(MIGRATION_MARKER.length).trim(), { file: f, text, body: text.slice(first.length + 1) });
  }
  const templateMigrations = (await readdir(join(template, "supabase", "migrations")))
    .filter((f) => versionOf(f) !== undefined && (values.examples || !EXAMPLE_MIGRATION.test(f) || adopted.has(f)))
    .sort();
  let last = ownNames
    .map(versionOf)
    .filter((v): v is string => v !== undefined)
    .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
    .at(-1);
  const migrations: Array<{ template: string; file: string; status: "create" | "unchanged" }> = [];
  const recordedMigrations: Manifest["migrations"] = {};
  for (const t of templateMigrations) {
    const body = await readFile(join(template, "supabase", "migrations", t), "utf8");
    const prior = adopted.get(t);
    if (prior) {
      const recorded = manifest?.migrations[t];
      const edited = recorded !== undefined ? sha256(prior.text) !== recorded.sha256 : prior.body !== body;
      if (!edited) {
        migrations.push({ template: t, file: prior.file, status: "unchanged" });
        recordedMigrations[t] = { file: prior.file, sha256: sha256(prior.text) };
      } else
        conflicts.push(
          `supabase/migrations/${prior.file} (adopted from ${t}) ${recorded !== undefined ? "was edited since it was adopted" : "differs from the template's"}; migrations that may be applied are never rewritten — undo your edit, or add the change as a new migration`,
        );
      continue;
    }
    last = nextVersion(last, now);
    const file = `${last}_${t.slice(versionOf(t)!.length + 1)}`;
    const text = `${MIGRATION_MARKER}${t}\n${body}`;
    migrations.push({ template: t, file, status: "create" });
    recordedMigrations[t] = { file, sha256: sha256(text) };
    if (await inside(join(migrationsDir, file))) planned.push({ path: join(migrationsDir, file), content: text, status: "create" });
  }

  // 3. config.toml: [functions.<name>], added or checked.
  const block = functionBlockOf(config, name);
  let configStatus: "added" | "present";
  if (block === undefined) configStatus = "added";
  else {
    configStatus = "present";
    const verify = tomlValue(block, "verify_jwt");
    const entrypoint = tomlValue(block, "entrypoint");
    const importMap = tomlValue(block, "import_map");
    if (verify !== "false")
      conflicts.push(
        `supabase/config.toml has a [functions.${name}] block without verify_jwt = false (writers' tokens are not Supabase Auth tokens; the function verifies them)${ownRest}`,
      );
    if (entrypoint !== undefined && entrypoint !== `./functions/${name}/index.ts`)
      conflicts.push(`supabase/config.toml's [functions.${name}] entrypoint is ${entrypoint}, not ./functions/${name}/index.ts${ownRest}`);
    if (importMap !== undefined && importMap !== `./functions/${name}/deno.json`)
      conflicts.push(`supabase/config.toml's [functions.${name}] import_map is ${importMap}, not ./functions/${name}/deno.json${ownRest}`);
  }
  const gitignorePath = join(project, ".gitignore");
  const gitignore = (await inside(gitignorePath)) ? await readOptional(gitignorePath) : undefined;
  refuseOutside();

  if (conflicts.length > 0) {
    throw new CliError("would_overwrite", `refusing to change ${project}; nothing was written:\n  - ${conflicts.join("\n  - ")}`);
  }

  // Everything checked: write.
  const fileRecord: Record<string, string> = {};
  for (const p of planned) {
    const rel = relative(project, p.path);
    try {
      if (p.status === "remove") await rm(p.path);
      else if (p.status !== "unchanged") {
        await mkdir(dirname(p.path), { recursive: true });
        await writeFile(p.path, p.content, { flag: p.status === "create" ? "wx" : "w" });
      }
    } catch (e) {
      throw new CliError("file_unwritable", `cannot write ${p.path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`, 1);
    }
    if (p.status !== "remove" && !p.path.startsWith(migrationsDir + sep)) fileRecord[rel] = sha256(p.content);
  }
  if (configStatus === "added") {
    await writeFile(configPath, `${config.endsWith("\n") ? config : `${config}\n`}\n${functionBlock(name)}`);
  }
  const ignored = gitignoreAdditions(gitignore);
  if (ignored.length > 0) {
    const prefix = gitignore === undefined || gitignore === "" ? "" : gitignore.endsWith("\n") ? "\n" : "\n\n";
    await writeFile(
      gitignorePath,
      `${gitignore ?? ""}${prefix}# fedjwt: private keys and secrets never go to git\n${ignored.join("\n")}\n`,
    );
  }
  const record: Manifest = {
    manifest: 1,
    template: await templateVersion(template),
    function: name,
    files: fileRecord,
    migrations: recordedMigrations,
  };
  // The template's version alone changing (nothing else) rewrites the manifest but is no change to report.
  const recordChanged =
    manifest === undefined || JSON.stringify({ ...manifest, template: null }) !== JSON.stringify({ ...record, template: null });
  const manifestOut = `${JSON.stringify(record, null, 2)}\n`;
  if (manifestOut !== manifestText) await writeFile(manifestPath, manifestOut);

  const fnFiles = planned.filter((p) => !p.path.startsWith(migrationsDir + sep));
  const count = (status: Planned["status"]) => fnFiles.filter((p) => p.status === status).length;
  const newMigrations = migrations.filter((m) => m.status === "create");
  const firstAdoption = manifest === undefined && adopted.size === 0 && count("unchanged") === 0;
  const functionChanged = count("create") + count("update") + count("remove") > 0;
  const changed = functionChanged || newMigrations.length > 0 || configStatus === "added" || ignored.length > 0 || recordChanged;

  // docs/deployment.md runs these same lines (the adoption test compares them). A re-run prints only
  // what its changes need: never the signing-key step again.
  const deploy = `supabase functions deploy ${name} --use-api`;
  const next = firstAdoption
    ? [
        "supabase link --project-ref <ref>",
        "supabase db push --remote",
        "(umask 077 && set -C && mkdir -p keys && supabase gen signing-key --algorithm ES256 > keys/supabase-signing-key.json)",
        'supabase secrets set FEDJWT_AUDIENCE=https://<ref>.supabase.co FEDJWT_SIGNING_JWK="$(cat keys/supabase-signing-key.json)"',
        deploy,
        "fedjwt keygen --issuer <issuer> --target https://<ref>.supabase.co",
        'fedjwt register --url https://<ref>.supabase.co --service-role-key "$SUPABASE_SECRET_KEY" --issuer <issuer> --public-key keys/<issuer>-<ref>.pub --allowed-role <role>',
      ]
    : [...(newMigrations.length > 0 ? ["supabase db push --remote"] : []), ...(functionChanged ? [deploy] : [])];
  // What an adopted migration changes in the project's own objects (the README's adoption section says the same).
  const notes: string[] = [];
  const revoking = newMigrations.find((m) => m.template.endsWith("_writer_function_privileges.sql"));
  if (revoking)
    notes.push(
      `${revoking.file} revokes PUBLIC's EXECUTE on your functions in public: anon and authenticated keep it through Supabase's default privileges on functions created by postgres; for one they reached only through PUBLIC, add grant execute on function public.<f>(…) to anon, authenticated`,
    );
  const later = newMigrations.find((m) => m.template.endsWith("_writer_function_default_privileges.sql"));
  if (later)
    notes.push(
      `${later.file} gives no EXECUTE to PUBLIC on functions postgres creates from then on, in any schema, and takes it from those already in public: there anon and authenticated still get it by Supabase's default privileges (with its Default privileges for new entities off, grant it to them); elsewhere (e.g. a private helper your policies call) grant it, e.g. grant execute on function private.<f>(…) to authenticated (docs/database.md)`,
    );
  const memberships = newMigrations.find((m) => m.template.endsWith("_writer_role_memberships.sql"));
  if (memberships && adopted.size > 0)
    notes.push(
      `${memberships.file} makes a writer role that owns a table, function or schema, or can take a pg_*, supabase_* or LOGIN role's privileges, no longer a writer role: its issuers are refused (db_role_refused) until you take those away`,
    );
  if (leftAlone.length > 0)
    notes.push(
      `the template no longer uses ${leftAlone.join(", ")}, which you edited: left as it is; delete it when you no longer need it`,
    );
  const result = {
    project,
    template,
    function: name,
    changed,
    files: fnFiles.map((p) => ({ path: relative(project, p.path), status: p.status })),
    migrations,
    config: configStatus,
    gitignore: ignored,
    manifest: MANIFEST,
    next,
    notes,
  };
  if (values.json) {
    printJson(io, result);
    return;
  }
  const fileSummary = [
    `${count("create")} written`,
    ...(count("update") ? [`${count("update")} updated`] : []),
    ...(count("remove") ? [`${count("remove")} removed`] : []),
    `${count("unchanged")} already up to date`,
  ].join(", ");
  const headline = firstAdoption
    ? `Adopted the ${name} function into ${project}`
    : changed
      ? `Updated the adoption in ${project}: ${count("update")} function files updated, ${count("create")} written, ${count("remove")} removed, ${newMigrations.length} migrations added`
      : `Nothing to change in ${project}: the ${name} function, its migrations and config are as the template has them`;
  io.out(
    [
      headline,
      `  function files   ${fileSummary} (supabase/functions/${name}, supabase/functions/_shared/fedjwt)`,
      `  migrations       ${newMigrations.length} added${newMigrations.length ? `: ${newMigrations.map((m) => m.file).join(", ")}` : ""}; ${migrations.length - newMigrations.length} already adopted`,
      `  config.toml      [functions.${name}] ${configStatus === "added" ? "added (verify_jwt = false)" : "already present"}`,
      `  .gitignore       ${ignored.length ? `added ${ignored.join(" ")}` : "already ignores keys and secrets"}`,
      `  ${MANIFEST} ${manifest === undefined ? "written" : recordChanged ? "updated" : manifestOut !== manifestText ? "updated (the template's version only)" : "unchanged"} (the sha256 of each adopted file, for upgrades)`,
      ...notes.map((n) => `Note: ${n}.`),
      ...(next.length > 0 ? ["", "Next, from the project folder:", ...next.map((c) => `  ${c}`)] : []),
      ...(firstAdoption
        ? [
            "",
            "(fedjwt = this CLI, e.g. node <path>/fedjwt.mjs; <issuer>: a writer's name, <role>: an application role it may request.)",
            "Import keys/supabase-signing-key.json into the project (Dashboard → JWT Keys) before the function uses it; it is a private key (mode 600, never in git).",
            "keys/<issuer>-<ref>.key is the writer's private key: give it to that writer only.",
            "`db push --remote` targets the linked project (plain `db push` targets the local stack); add --yes in scripts.",
            'If it stops with "Found local migration files to be inserted before the last migration on remote database",',
            "the hosted project has migrations newer than these files: rerun it with --include-all to apply them anyway.",
            "On the legacy JWT secret instead of signing keys: set FEDJWT_LEGACY_JWT_SECRET (Settings → JWT) instead of FEDJWT_SIGNING_JWK.",
          ]
        : []),
    ].join("\n"),
  );
}

/** The template's index.ts as adopted: its comments point at the copies and the deploy command names the function; a
 * name other than rest becomes FEDJWT_FUNCTION_NAME's default. */
function adoptedIndex(content: string, name: string, file: string): string {
  let out = content
    .replace("All logic lives in packages/proxy", "All logic lives in ../_shared/fedjwt/proxy")
    .replace("The `rest` Edge Function", `The \`${name}\` Edge Function`)
    .replace("supabase functions deploy rest ", `supabase functions deploy ${name} `);
  if (name !== "rest") {
    const wiring = "proxyOptionsFromEnv((name) => Deno.env.get(name))";
    if (!out.includes(wiring)) throw new CliError("template_broken", `${file} no longer reads its environment with ${wiring}`, 1);
    out = out.replace(
      wiring,
      `proxyOptionsFromEnv((name) => Deno.env.get(name) ?? (name === "FEDJWT_FUNCTION_NAME" ? ${JSON.stringify(name)} : undefined))`,
    );
  }
  return out;
}
