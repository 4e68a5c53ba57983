// What adopt copies out of a template: the function's files as adopted (index.ts wired to its name, deno.json
// pointing at the copies), the package sources they import, and the template's migrations with their header.
// Read through a TemplateSource, so the same code reads a checkout on disk or a commit of its git history.
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "../errors.ts";

/** What adopt reads from a template checkout: a folder with these is a template (a copy of them too). */
export const TEMPLATE_PARTS = [
  "supabase/functions/rest",
  "supabase/migrations",
  "packages/proxy/src",
  "packages/signer/src",
  "packages/cli/package.json",
] as const;

/** The template's function folder, relative to the template. */
export const TEMPLATE_FUNCTION = "supabase/functions/rest";
/** The folder the package sources are copied to, relative to the project. */
export const SHARED = "supabase/functions/_shared/fedjwt";
/** The marker that ties an adopted migration to its template file, so re-runs recognise it. */
export const MIGRATION_MARKER = "-- fedjwt adopt: from template migration ";
/** The line every adopted index.ts carries (no release wrote one without it): what makes a function folder adopt's. */
export const ADOPTED_HEADER = "All logic lives in ../_shared/fedjwt/proxy";
const EXAMPLE_MIGRATION = /_example_/;

/** Reads a template: files and folder listings by path relative to its root (posix separators). */
export interface TemplateSource {
  /** A file's text, or undefined when there is none. */
  read(path: string): Promise<string | undefined>;
  /** The names in a folder (empty when there is none). */
  list(path: string): Promise<string[]>;
}

/** A template checkout on disk. */
export function diskTemplate(root: string): TemplateSource {
  return {
    read: async (path) => {
      try {
        return await readFile(join(root, path), "utf8");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw new CliError("template_broken", `cannot read the template's ${path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`, 1);
      }
    },
    list: (path) => readdir(join(root, path)).catch(() => []),
  };
}

const isTemplate = (dir: string) => TEMPLATE_PARTS.every((part) => existsSync(join(dir, part)));

/** Whether `dir` has the parts adopt reads. */
export { isTemplate };

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

/** One file adopt writes: its path relative to the project and its content. */
export interface TemplateFile {
  path: string;
  content: string;
}

interface LocalPackage {
  name: string;
  folder: string;
  srcDir: string;
  entry: string;
}

const broken = (why: string) => new CliError("template_broken", `the template is broken: ${why}`, 1);
const within = (path: string, dir: string) => path.startsWith(`${dir}/`);

/**
 * The function's files as adopted under `name` and the package sources they import: the import graph from
 * index.ts through the template deno.json's local import-map entries and relative imports. A relative import
 * that leaves its function folder (or a package's source folder) is template_broken: nothing is written outside.
 */
export async function functionFiles(src: TemplateSource, name: string): Promise<TemplateFile[]> {
  const denoText = await src.read(`${TEMPLATE_FUNCTION}/deno.json`);
  if (denoText === undefined) throw broken(`${TEMPLATE_FUNCTION}/deno.json does not exist`);
  let imports: Record<string, string>;
  try {
    imports = (JSON.parse(denoText) as { imports?: Record<string, string> }).imports ?? {};
  } catch {
    throw broken(`${TEMPLATE_FUNCTION}/deno.json is not JSON`);
  }
  const packages: LocalPackage[] = [];
  for (const [importName, target] of Object.entries(imports)) {
    if (typeof target !== "string" || !target.startsWith(".")) continue;
    const entry = posix.normalize(posix.join(TEMPLATE_FUNCTION, target));
    const srcDir = posix.dirname(entry);
    const folder = posix.basename(srcDir) === "src" ? posix.basename(posix.dirname(srcDir)) : posix.basename(srcDir);
    if (entry.startsWith("../") || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(folder))
      throw broken(`its deno.json maps ${importName} to ${target}, not a package source folder of the template`);
    packages.push({ name: importName, folder, srcDir, entry });
  }
  const files = new Map<string, LocalPackage | undefined>();
  const queue: Array<[string, LocalPackage | undefined]> = [[`${TEMPLATE_FUNCTION}/index.ts`, undefined]];
  while (queue.length > 0) {
    const [file, pkg] = queue.pop()!;
    if (files.has(file)) continue;
    files.set(file, pkg);
    const source = await src.read(file);
    if (source === undefined) throw broken(`its function imports ${file}, which does not exist`);
    for (const spec of importSpecifiers(source)) {
      if (spec.startsWith("./") || spec.startsWith("../")) {
        const target = posix.normalize(posix.join(posix.dirname(file), spec));
        const home = pkg ? pkg.srcDir : TEMPLATE_FUNCTION;
        if (!within(target, home))
          throw broken(`${file} imports ${spec}, outside ${pkg ? "its package's source folder" : "its function folder"} (${home})`);
        queue.push([target, pkg]);
      } else {
        const local = packages.find((p) => p.name === spec);
        if (local) queue.push([local.entry, local]);
      }
    }
  }
  const out: TemplateFile[] = [];
  for (const [file, pkg] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const content = (await src.read(file))!;
    if (pkg) out.push({ path: `${SHARED}/${pkg.folder}/${posix.relative(pkg.srcDir, file)}`, content });
    else
      out.push({
        path: `supabase/functions/${name}/${posix.relative(TEMPLATE_FUNCTION, file)}`,
        content: adoptedIndex(content, name, file),
      });
  }
  const rewritten: Record<string, string> = {};
  for (const [importName, target] of Object.entries(imports)) {
    const pkg = packages.find((p) => p.name === importName);
    rewritten[importName] = pkg ? `../_shared/fedjwt/${pkg.folder}/${posix.relative(pkg.srcDir, pkg.entry)}` : target;
  }
  out.push({ path: `supabase/functions/${name}/deno.json`, content: `${JSON.stringify({ imports: rewritten }, null, 2)}\n` });
  return out;
}

/** The template's index.ts as adopted: its comments point at the copies and the deploy command names the function; a
 * name other than rest becomes FEDJWT_FUNCTION_NAME's default. Other files of the function are copied as they are. */
export function adoptedIndex(content: string, name: string, file: string): string {
  if (posix.basename(file) !== "index.ts" || posix.dirname(file) !== TEMPLATE_FUNCTION) return content;
  let out = content
    .replace("All logic lives in packages/proxy", ADOPTED_HEADER)
    .replace("The `rest` Edge Function", `The \`${name}\` Edge Function`)
    .replace("supabase functions deploy rest ", `supabase functions deploy ${name} `);
  if (!out.includes(ADOPTED_HEADER)) throw broken(`${file} no longer says "All logic lives in packages/proxy" (adopt's header)`);
  if (name !== "rest") {
    const wiring = "proxyOptionsFromEnv((name) => Deno.env.get(name))";
    if (!out.includes(wiring)) throw broken(`${file} no longer reads its environment with ${wiring}`);
    out = out.replace(
      wiring,
      `proxyOptionsFromEnv((name) => Deno.env.get(name) ?? (name === "FEDJWT_FUNCTION_NAME" ? ${JSON.stringify(name)} : undefined))`,
    );
  }
  return out;
}

/** Whether an index.ts is one adopt wrote: its header comment carries ADOPTED_HEADER. */
export function isAdoptedIndex(text: string): boolean {
  const header = text.split("\n").filter((l, i) => i < 5 && l.startsWith("//"));
  return header.some((l) => l.includes(ADOPTED_HEADER));
}

/** A template migration's file name → its version (the digits before the first _). */
export function versionOf(file: string): string | undefined {
  return /^(\d+)_.*\.sql$/.exec(file)?.[1];
}

/** A template migration as adopted: the marker line, then the template's text. */
export const adoptedMigration = (template: string, body: string) => `${MIGRATION_MARKER}${template}\n${body}`;

/** The template's migrations (file name and text), in order; the examples only when asked for. */
export async function templateMigrations(
  src: TemplateSource,
  examples: (file: string) => boolean,
): Promise<Array<{ template: string; body: string }>> {
  const names = (await src.list("supabase/migrations")).filter((f) => versionOf(f) !== undefined).sort();
  const out: Array<{ template: string; body: string }> = [];
  for (const t of names) {
    if (EXAMPLE_MIGRATION.test(t) && !examples(t)) continue;
    const body = await src.read(`supabase/migrations/${t}`);
    if (body !== undefined) out.push({ template: t, body });
  }
  return out;
}
