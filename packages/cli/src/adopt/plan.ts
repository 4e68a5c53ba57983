// adopt's plan: what it would write, replace and remove in a project, and why, or why it refuses. Reads the project
// (never through a link) and the template; writes nothing. apply.ts carries a plan out.
import type { CliCode } from "../errors.ts";
import { listFiles, look, sha256, type Look } from "./files.ts";
import { isFunctionName, MANIFEST, parseManifest, type Manifest } from "./manifest.ts";
import { releasedFile, releasedMigration } from "./released.ts";
import {
  adoptedMigration,
  functionFiles,
  isAdoptedIndex,
  MIGRATION_MARKER,
  SHARED,
  templateMigrations,
  versionOf,
  type TemplateSource,
} from "./template.ts";

/** The lines adopt makes sure .gitignore has (a line may be added here; existing projects get it on their next run). */
export const GITIGNORE_ENTRIES = ["keys/", "*.key", "*.pem", "supabase/signing_keys.json", "supabase/functions/.env", ".env.local"];
export const CONFIG = "supabase/config.toml";
export const GITIGNORE = ".gitignore";
export const MIGRATIONS = "supabase/migrations";

/** The block adopt adds to config.toml for the function. */
export const functionBlock = (name: string) => `[functions.${name}]
enabled = true
# Writers' tokens are verified by the function against the key registry, not by the gateway.
verify_jwt = false
import_map = "./functions/${name}/deno.json"
entrypoint = "./functions/${name}/index.ts"
`;

/** One file of the function or its sources: what happens to it and why. */
export interface FileStep {
  path: string;
  status: "create" | "update" | "remove" | "unchanged";
  why: string;
}

/** One template migration: adopted now (create) or already (unchanged). */
export interface MigrationStep {
  template: string;
  file: string;
  status: "create" | "unchanged";
  why: string;
}

/** One change apply makes: `before` is the sha256 of what the plan saw there (an update or a removal checks it). */
export interface Write {
  path: string;
  action: "create" | "update" | "remove";
  content: string;
  before?: string;
  /** For config.toml and .gitignore, which adopt only appends to: the text the plan saw. */
  base?: string;
}

/** Why adopt will not go ahead: one situation, the files it concerns, what to do. */
export interface Refusal {
  code: CliCode;
  situation: string;
  message: string;
  paths: string[];
}

/** What adopt would do in a project. */
export interface Plan {
  project: string;
  template: string;
  function: string;
  /** first: nothing adopted yet; upgrade: a manifest; pre-manifest: adopted by a release that wrote none. */
  adoption: "first" | "upgrade" | "pre-manifest";
  files: FileStep[];
  migrations: MigrationStep[];
  config: "added" | "present";
  gitignore: string[];
  manifest: "create" | "update" | "version only" | "unchanged";
  changed: boolean;
  next: string[];
  notes: string[];
  refusals: Refusal[];
  /** What apply writes, in order (the manifest last). */
  writes: Write[];
}

/** What the plan needs besides the project: the template, the flags and the clock. */
export interface PlanInput {
  /** The project's real path. */
  project: string;
  template: string;
  source: TemplateSource;
  templateInfo: Manifest["template"];
  functionFlag?: string | undefined;
  examples: boolean;
  now: Date;
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

/** The [functions.<name>] table's body in config.toml, or undefined when there is none. */
function functionBlockOf(toml: string, name: string): string | undefined {
  const m = new RegExp(`^\\[functions\\.${name}\\][ \\t]*(?:#.*)?\\r?\\n([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, "m").exec(toml);
  return m?.[1];
}

function tomlValue(block: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*=\\s*("?)([^"\\n#]*)\\1`, "m").exec(block)?.[2]?.trim();
}

const list = (paths: string[]) => paths.join(", ");

/** Refusals that end the plan at once (nothing else about the project is worth saying). */
export class PlanRefused extends Error {
  readonly refusals: Refusal[];
  constructor(refusals: Refusal[]) {
    super(refusals.map((r) => r.message).join("; "));
    this.refusals = refusals;
  }
}

/** Plans adopting (or upgrading) the template's function, migrations and config in `input.project`. Writes nothing. */
export async function planAdoption(input: PlanInput): Promise<Plan> {
  const { project } = input;
  const refusals: Refusal[] = [];
  const writes: Write[] = [];
  const links: Array<{ path: string; at: string; to: string }> = [];
  const odd: Array<{ path: string; what: string }> = [];
  /** Looks at a path adopt may write: a link on the way or a file that is no plain one is noted, and undefined. */
  const writable = async (path: string): Promise<Extract<Look, { kind: "missing" | "file" }> | undefined> => {
    const l = await look(project, path);
    if (l.kind === "link") links.push({ path, at: l.at, to: l.to });
    else if (l.kind === "other") odd.push({ path, what: `${l.at} is ${l.what}` });
    else if (l.kind === "dir") odd.push({ path, what: `${path} is a folder` });
    else if (l.kind === "file" && l.nlink > 1)
      odd.push({ path, what: `${path} is a file with other hard links (a change would reach them too)` });
    else return l;
    return undefined;
  };

  // The project's config.toml, and the manifest an earlier run wrote.
  const configLook = await writable(CONFIG);
  if (configLook === undefined) return refuse(linkRefusals(links, odd));
  const config = configLook.kind === "file" ? configLook.content : undefined;
  const manifestLook = await writable(MANIFEST);
  if (manifestLook === undefined) return refuse(linkRefusals(links, odd));
  const manifestText = manifestLook.kind === "file" ? manifestLook.content : undefined;
  const manifest = manifestText === undefined ? undefined : parseManifest(manifestText);

  if (manifest && input.functionFlag !== undefined && input.functionFlag !== manifest.function)
    return refuse({
      code: "would_overwrite",
      situation: "another name than the adopted one",
      paths: [MANIFEST],
      message: `this project adopted the function as ${manifest.function} (${MANIFEST}); run adopt without --function, or with --function ${manifest.function}`,
    });
  const name = input.functionFlag ?? manifest?.function ?? "rest";
  const fnDir = `supabase/functions/${name}`;
  const fnLook = await look(project, fnDir);
  const indexLook = await look(project, `${fnDir}/index.ts`);
  const fnAdopted = indexLook.kind === "file" && isAdoptedIndex(indexLook.content);
  // The manifest's function is believed only when that folder's index.ts carries adopt's header; a function folder
  // that is there and not adopt's is never written, nor its verify_jwt changed.
  const plainIndex = indexLook.kind === "missing" || indexLook.kind === "file"; // a link or a FIFO is refused below, by name
  const why =
    fnLook.kind === "missing"
      ? "it does not exist"
      : indexLook.kind === "file"
        ? "its index.ts has no fedjwt adopt header"
        : "it has no index.ts";
  if (
    manifest !== undefined &&
    name === manifest.function &&
    !fnAdopted &&
    plainIndex &&
    (fnLook.kind === "dir" || fnLook.kind === "missing")
  )
    return refuse({
      code: "bad_manifest",
      situation: "manifest names a function that is not the adopted one",
      paths: [MANIFEST, fnDir],
      message: `${MANIFEST} names the function ${name}, but ${fnDir} is not one adopt wrote (${why}), so the manifest is not trusted: a manifest naming a function of yours would have adopt replace its files, delete its helpers and turn its verify_jwt off. If you edited or removed the adopted ${fnDir}/index.ts, restore it (git checkout) and move your change aside; if ${name} is not the function adopt wrote, restore ${MANIFEST} from version control (or delete it: adopt then recognises the adoption by its files)`,
    });
  if (fnLook.kind === "dir" && !fnAdopted && plainIndex)
    return refuse({
      code: "would_overwrite",
      situation: "a function of yours has the name",
      paths: [fnDir],
      message: `${fnDir} is a function of your own (${why}): adopt the gateway under another name, e.g. \`fedjwt adopt ${project} --function writers\`, and writers call …/functions/v1/writers/…; your ${name} function and its config stay as they are`,
    });

  // Migrations already adopted: recognised by their header line (regular files only; a link is never read).
  const ownNames = (await listFiles(project, MIGRATIONS))
    .map((p) => p.slice(MIGRATIONS.length + 1))
    .filter((f) => !f.includes("/") && f.endsWith(".sql"));
  const adopted = new Map<string, { file: string; text: string }>();
  for (const f of ownNames) {
    const l = await look(project, `${MIGRATIONS}/${f}`);
    if (l.kind !== "file") continue;
    const first = l.content.split("\n", 1)[0]!;
    if (first.startsWith(MIGRATION_MARKER)) adopted.set(first.slice(MIGRATION_MARKER.length).trim(), { file: f, text: l.content });
  }
  const adoption: Plan["adoption"] = manifest ? "upgrade" : fnAdopted || adopted.size > 0 ? "pre-manifest" : "first";
  /** The recorded sha256 of a function file: only a manifest whose function is the adopted one is believed. */
  const recorded = (path: string) => (manifest && (fnAdopted || !path.startsWith(`${fnDir}/`)) ? manifest.files[path] : undefined);
  /** Whether `sha` is a version some release adopted at `path` (function files: under the name rest only). */
  const released = (path: string, sha: string) => (path.startsWith(`${SHARED}/`) || name === "rest") && releasedFile(path, sha);

  // 1. The function and the sources it imports.
  const files: FileStep[] = [];
  const edited: string[] = [];
  const unknown: string[] = [];
  const planned = await functionFiles(input.source, name);
  for (const f of planned) {
    const l = await writable(f.path);
    if (l === undefined) continue;
    if (l.kind === "missing") {
      const why =
        adoption === "first" ? "the template's" : recorded(f.path) ? "adopted earlier, missing: written again" : "new in the template";
      files.push({ path: f.path, status: "create", why });
      writes.push({ path: f.path, action: "create", content: f.content });
      continue;
    }
    const have = sha256(l.content);
    if (l.content === f.content) files.push({ path: f.path, status: "unchanged", why: "as the template has it" });
    else if (recorded(f.path) === have || released(f.path, have)) {
      const why =
        recorded(f.path) === have ? "unedited since it was adopted (its recorded sha256)" : "an earlier release's version, unedited";
      files.push({ path: f.path, status: "update", why: `${why}: updated to the template's` });
      writes.push({ path: f.path, action: "update", content: f.content, before: have });
    } else if (recorded(f.path) !== undefined || adoption !== "first") edited.push(f.path);
    else unknown.push(f.path);
  }
  // Files an earlier adoption wrote that the template no longer has: removed if unedited, else left and named.
  const leftAlone: string[] = [];
  const candidates = new Set([
    ...Object.keys(manifest?.files ?? {}).filter((p) => recorded(p) !== undefined),
    ...(adoption === "pre-manifest" ? [...(fnAdopted ? await listFiles(project, fnDir) : []), ...(await listFiles(project, SHARED))] : []),
  ]);
  for (const path of [...candidates].sort()) {
    if (planned.some((f) => f.path === path)) continue;
    const l = await look(project, path);
    if (l.kind === "missing") continue;
    const have = l.kind === "file" ? sha256(l.content) : undefined;
    if (l.kind === "file" && l.nlink === 1 && have !== undefined && (recorded(path) === have || released(path, have))) {
      files.push({ path, status: "remove", why: "adopted earlier, unedited, no longer used by the template" });
      writes.push({ path, action: "remove", content: "", before: have });
    } else if (recorded(path) !== undefined) leftAlone.push(path); // edited, or a link, a folder, a FIFO: not adopt's to remove
  }
  if (edited.length > 0) refusals.push(editedRefusal(adoption, edited, fnAdopted ? `${fnDir}/index.ts` : undefined, adopted.size));
  if (unknown.length > 0)
    refusals.push({
      code: "would_overwrite",
      situation: "files of yours where adopt writes",
      paths: unknown,
      message: `${list(unknown)} ${unknown.length === 1 ? "is a file" : "are files"} adopt would write, with other content and no record of adopting ${unknown.length === 1 ? "it" : "them"} (no adopted function, no ${MANIFEST}); move ${unknown.length === 1 ? "it" : "them"} elsewhere and run adopt again`,
    });

  // 2. Migrations: recognised by their header, new ones stamped after the project's last migration.
  const templateMigs = await templateMigrations(input.source, (t) => input.examples || adopted.has(t));
  let last = ownNames
    .map(versionOf)
    .filter((v): v is string => v !== undefined)
    .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
    .at(-1);
  const migrations: MigrationStep[] = [];
  const recordedMigrations: Manifest["migrations"] = {};
  const editedMigrations: string[] = [];
  for (const { template: t, body } of templateMigs) {
    const text = adoptedMigration(t, body);
    const prior = adopted.get(t);
    if (prior) {
      const have = sha256(prior.text);
      const unedited = prior.text === text || manifest?.migrations[t]?.sha256 === have || releasedMigration(t, have);
      if (unedited) {
        const why = prior.text === text ? "adopted, as the template has it" : "adopted from an earlier release, unedited (never rewritten)";
        migrations.push({ template: t, file: prior.file, status: "unchanged", why });
        recordedMigrations[t] = { file: prior.file, sha256: have };
      } else editedMigrations.push(`${MIGRATIONS}/${prior.file} (adopted from ${t})`);
      continue;
    }
    last = nextVersion(last, input.now);
    const file = `${last}_${t.slice(versionOf(t)!.length + 1)}`;
    const path = `${MIGRATIONS}/${file}`;
    if ((await writable(path)) === undefined) continue;
    migrations.push({ template: t, file, status: "create", why: "not adopted yet" });
    recordedMigrations[t] = { file, sha256: sha256(text) };
    writes.push({ path, action: "create", content: text });
  }
  if (editedMigrations.length > 0)
    refusals.push({
      code: "would_overwrite",
      situation: "adopted migrations edited",
      paths: editedMigrations.map((m) => m.slice(0, m.indexOf(" "))),
      message: `${list(editedMigrations)} ${editedMigrations.length === 1 ? "was" : "were"} edited since ${editedMigrations.length === 1 ? "it was" : "they were"} adopted (${manifest ? `not the sha256 in ${MANIFEST}` : "no release's version of the template migration"}); migrations that may be applied are never rewritten: undo your edit, or add the change as a new migration of your own`,
    });

  // 3. config.toml: [functions.<name>], added or checked. An existing function's verify_jwt is never changed.
  let configStatus: Plan["config"] = "present";
  if (config !== undefined) {
    const block = functionBlockOf(config, name);
    if (block === undefined) {
      configStatus = "added";
      const content = `${config.endsWith("\n") ? config : `${config}\n`}\n${functionBlock(name)}`;
      writes.push({ path: CONFIG, action: "update", content, before: sha256(config), base: config });
    } else {
      const issues: string[] = [];
      const verify = tomlValue(block, "verify_jwt");
      const entrypoint = tomlValue(block, "entrypoint");
      const importMap = tomlValue(block, "import_map");
      if (verify !== "false") issues.push(`it is without verify_jwt = false (verify_jwt = ${verify ?? "true, the default"})`);
      if (entrypoint !== undefined && entrypoint !== `./functions/${name}/index.ts`)
        issues.push(`its entrypoint is ${entrypoint}, not ./functions/${name}/index.ts`);
      if (importMap !== undefined && importMap !== `./functions/${name}/deno.json`)
        issues.push(`its import_map is ${importMap}, not ./functions/${name}/deno.json`);
      if (issues.length > 0)
        refusals.push({
          code: "would_overwrite",
          situation: "config.toml configures the function otherwise",
          paths: [CONFIG],
          message:
            adoption === "first" && input.functionFlag === undefined
              ? `${CONFIG} already has a [functions.${name}] block, which adopt never changes (${issues.join("; ")}): if it is a function of yours, adopt the gateway under another name, e.g. \`fedjwt adopt ${project} --function writers\``
              : `${CONFIG}'s [functions.${name}] block does not fit the adopted function, and adopt never changes it: ${issues.join("; ")}; the function verifies writers' tokens itself (they are not Supabase Auth tokens), so set verify_jwt = false there (and the paths above)`,
        });
    }
  }

  // 4. .gitignore: the lines it lacks, appended (looked at as a place to write only when something is to be added).
  const ignoreSeen = await look(project, GITIGNORE);
  const gitignore = ignoreSeen.kind === "file" ? ignoreSeen.content : undefined;
  const have = new Set((gitignore ?? "").split(/\r?\n/).map((l) => l.trim()));
  const ignored = GITIGNORE_ENTRIES.filter((e) => !have.has(e) && !have.has(`/${e}`));
  if (ignored.length > 0 && (await writable(GITIGNORE)) !== undefined) {
    const prefix = gitignore === undefined || gitignore === "" ? "" : gitignore.endsWith("\n") ? "\n" : "\n\n";
    const content = `${gitignore ?? ""}${prefix}# fedjwt: private keys and secrets never go to git\n${ignored.join("\n")}\n`;
    writes.push(
      gitignore === undefined
        ? { path: GITIGNORE, action: "create", content }
        : { path: GITIGNORE, action: "update", content, before: sha256(gitignore), base: gitignore },
    );
  }

  refusals.unshift(...linkRefusals(links, odd));

  // 5. The manifest.
  const fileRecord: Record<string, string> = {};
  for (const f of planned) if (!edited.includes(f.path) && !unknown.includes(f.path)) fileRecord[f.path] = sha256(f.content);
  const record: Manifest = { manifest: 1, template: input.templateInfo, function: name, files: fileRecord, migrations: recordedMigrations };
  const manifestOut = `${JSON.stringify(record, null, 2)}\n`;
  // The template's version alone changing (nothing else) rewrites the manifest but is no change to report.
  const recordChanged =
    manifest === undefined || JSON.stringify({ ...manifest, template: null }) !== JSON.stringify({ ...record, template: null });
  const manifestStatus: Plan["manifest"] =
    manifest === undefined ? "create" : recordChanged ? "update" : manifestOut !== manifestText ? "version only" : "unchanged";
  if (manifestText === undefined) writes.push({ path: MANIFEST, action: "create", content: manifestOut });
  else if (manifestOut !== manifestText)
    writes.push({ path: MANIFEST, action: "update", content: manifestOut, before: sha256(manifestText) });

  const newMigrations = migrations.filter((m) => m.status === "create");
  const functionChanged = files.some((f) => f.status !== "unchanged");
  const changed = functionChanged || newMigrations.length > 0 || configStatus === "added" || ignored.length > 0 || recordChanged;
  return {
    project,
    template: input.template,
    function: name,
    adoption,
    files,
    migrations,
    config: configStatus,
    gitignore: ignored,
    manifest: manifestStatus,
    changed,
    next: nextCommands(adoption, name, newMigrations.length > 0, functionChanged),
    notes: notes(newMigrations, adoption, leftAlone),
    refusals,
    writes,
  };
}

/** A plan that is only a refusal. */
function refuse(refusal: Refusal | Refusal[]): never {
  throw new PlanRefused(Array.isArray(refusal) ? refusal : [refusal]);
}

function linkRefusals(links: Array<{ path: string; at: string; to: string }>, odd: Array<{ path: string; what: string }>): Refusal[] {
  const out: Refusal[] = [];
  const at = [...new Map(links.map((l) => [l.at, l.to])).entries()];
  if (at.length > 0)
    out.push({
      code: "outside_project",
      situation: "symbolic links where adopt writes",
      paths: at.map(([p]) => p),
      message: `adopt never writes through a symbolic link (one can lead outside the project, or be swapped for one), and these are links on the way to what it writes:\n    ${at.map(([p, to]) => `${p} → ${to}`).join("\n    ")}\n    replace each with the real folder or file`,
    });
  if (odd.length > 0)
    out.push({
      code: "would_overwrite",
      situation: "no plain file where adopt writes",
      paths: odd.map((o) => o.path),
      message: `adopt writes only plain files of its own: ${list([...new Set(odd.map((o) => o.what))])}; replace each with the file, or remove it`,
    });
  return out;
}

function editedRefusal(adoption: Plan["adoption"], edited: string[], index: string | undefined, migrations: number): Refusal {
  const one = edited.length === 1;
  const files = `${list(edited)} ${one ? "was" : "were"} edited`;
  const steps =
    "keep your changes elsewhere (git stash, or a copy), restore the adopted version (git checkout) or delete the file, run adopt again (it upgrades everything else in the same run), then apply your change again if the new version still needs it (docs/upgrading.md)";
  if (adoption === "pre-manifest") {
    const by = [index ? `the adopt header in ${index}` : "", migrations > 0 ? `${migrations} adopted migrations` : ""]
      .filter(Boolean)
      .join(" and ");
    return {
      code: "would_overwrite",
      situation: "pre-manifest adoption with edited files",
      paths: edited,
      message: `this project was adopted by an earlier fedjwt, before ${MANIFEST} existed (recognised by ${by}); every other adopted file is an unedited file of an earlier release and would be upgraded, but ${files}: ${one ? "it is" : "they are"} no release's version of ${one ? "its" : "their"} template file; ${steps}`,
    };
  }
  return {
    code: "would_overwrite",
    situation: "adopted files edited",
    paths: edited,
    message: `${files} since ${one ? "it was" : "they were"} adopted (${one ? "its sha256 is not the one" : "their sha256 are not the ones"} in ${MANIFEST}); ${steps}`,
  };
}

/** The commands a run's changes need: a first adoption's whole deployment, else only db push and deploy as needed. */
function nextCommands(adoption: Plan["adoption"], name: string, newMigrations: boolean, functionChanged: boolean): string[] {
  const deploy = `supabase functions deploy ${name} --use-api`;
  // docs/deployment.md runs these same lines (the adoption test compares them). Never the signing-key step again.
  if (adoption === "first")
    return [
      "supabase link --project-ref <ref>",
      "supabase db push --remote",
      "(umask 077 && set -C && mkdir -p keys && supabase gen signing-key --algorithm ES256 > keys/supabase-signing-key.json)",
      'supabase secrets set FEDJWT_AUDIENCE=https://<ref>.supabase.co FEDJWT_SIGNING_JWK="$(cat keys/supabase-signing-key.json)"',
      deploy,
      "fedjwt keygen --issuer <issuer> --target https://<ref>.supabase.co",
      'fedjwt register --url https://<ref>.supabase.co --service-role-key "$SUPABASE_SECRET_KEY" --issuer <issuer> --public-key keys/<issuer>-<ref>.pub --allowed-role <role>',
    ];
  return [...(newMigrations ? ["supabase db push --remote"] : []), ...(functionChanged ? [deploy] : [])];
}

/** What an adopted migration changes in the project's own objects (the README's adoption section says the same). */
function notes(newMigrations: MigrationStep[], adoption: Plan["adoption"], leftAlone: string[]): string[] {
  const out: string[] = [];
  const revoking = newMigrations.find((m) => m.template.endsWith("_writer_function_privileges.sql"));
  if (revoking)
    out.push(
      `${revoking.file} revokes PUBLIC's EXECUTE on your functions in public: anon and authenticated keep it through Supabase's default privileges on functions created by postgres; for one they reached only through PUBLIC, add grant execute on function public.<f>(…) to anon, authenticated`,
    );
  const later = newMigrations.find((m) => m.template.endsWith("_writer_function_default_privileges.sql"));
  if (later)
    out.push(
      `${later.file} gives no EXECUTE to PUBLIC on functions postgres creates from then on, in any schema, and takes it from those already in public: there anon and authenticated still get it by Supabase's default privileges (with its Default privileges for new entities off, grant it to them); elsewhere (e.g. a private helper your policies call) grant it, e.g. grant execute on function private.<f>(…) to authenticated (docs/database.md)`,
    );
  const memberships = newMigrations.find((m) => m.template.endsWith("_writer_role_memberships.sql"));
  if (memberships && adoption !== "first")
    out.push(
      `${memberships.file} makes a writer role that owns a table, function or schema, or can take a pg_*, supabase_* or LOGIN role's privileges, no longer a writer role: its issuers are refused (db_role_refused) until you take those away`,
    );
  if (leftAlone.length > 0)
    out.push(`the template no longer uses ${list(leftAlone)}, which you edited: left as it is; delete it when you no longer need it`);
  return out;
}

export { isFunctionName };
