// adopt's plan: what it would write, replace and remove in a project, and why, or why it refuses. Reads the project
// (never through a link) and the template; writes nothing. apply.ts carries a plan out.
import { listFiles, look, sha256, type Look } from "./files.ts";
import { CONFIG, functionBlock, functionBlockOf, GITIGNORE, GITIGNORE_ENTRIES, MIGRATIONS, nextVersion, tomlValue } from "./layout.ts";
import { MANIFEST, parseManifest, type Manifest } from "./manifest.ts";
import { editedRefusal, linkRefusals, list, nextCommands, notes } from "./messages.ts";
import { releasedFile, releasedMigration } from "./released.ts";
import { adoptedMigration, functionFiles, isAdoptedIndex, MIGRATION_MARKER, SHARED, templateMigrations, versionOf } from "./template.ts";
import type { FileStep, MigrationStep, Plan, PlanInput, Refusal, Write } from "./types.ts";

export type { FileStep, MigrationStep, Plan, PlanInput, Refusal, Write } from "./types.ts";

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
