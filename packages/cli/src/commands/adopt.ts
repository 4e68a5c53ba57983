import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { applyPlan } from "../adopt/apply.ts";
import { look } from "../adopt/files.ts";
import { isFunctionName, MANIFEST, type Manifest } from "../adopt/manifest.ts";
import { CONFIG, GITIGNORE_ENTRIES } from "../adopt/layout.ts";
import { planAdoption, PlanRefused, type Plan } from "../adopt/plan.ts";
import { described, doneText, planText, printRefused, refusalText } from "../adopt/report.ts";
import { diskTemplate, findTemplateRoot, isTemplate, SHARED, TEMPLATE_PARTS } from "../adopt/template.ts";
import { CliError } from "../errors.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";

export { MANIFEST } from "../adopt/manifest.ts";
export { nextVersion } from "../adopt/layout.ts";
export { findTemplateRoot, importSpecifiers, TEMPLATE_PARTS } from "../adopt/template.ts";

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
  "dry-run": {
    type: "boolean",
    default: false,
    description: "print the plan (each file written, updated or removed, and why, or why adopt refuses) and write nothing",
  },
  json: { type: "boolean", default: false, description: "print what was done (with --dry-run: the plan) as JSON" },
} as const satisfies FlagSpecs;

/** `fedjwt adopt`: its flags, help and runner. */
export const adoptCommand = defineCommand({
  name: "adopt",
  summary: "add the rest function, its migrations and config to an existing Supabase project",
  usage: ["<project> [--template <dir>] [--examples] [--function <name>] [--dry-run] [--json]"],
  description: `Add the federated-writers gateway to an existing Supabase project (a folder with supabase/config.toml, as
\`supabase init\` makes it). Writes into <project>, and nowhere else (<name> = rest unless --function says so):
  supabase/functions/<name>/index.ts, deno.json the Edge Function, its imports pointing at
  ${SHARED}/<package>/   the proxy and signer sources it imports (nothing else)
  supabase/migrations/<new timestamp>_<name>.sql the template's migrations (registry, helpers; no examples
                                                 unless --examples), stamped after the project's last one
  supabase/config.toml                           a [functions.<name>] block (verify_jwt = false), appended
  .gitignore                                     what it lacks of ${GITIGNORE_ENTRIES.slice(0, 3).join(", ")},
                                                 ${GITIGNORE_ENTRIES.slice(3).join(", ")}
  ${MANIFEST}                   what it adopted: the template's version and commit, and
                                                 the sha256 of every file it wrote
--dry-run prints that plan (each file written, updated or removed, and why) and writes nothing. adopt never
writes through a symbolic link, and never changes a function of yours: a supabase/functions/<name> whose
index.ts has no fedjwt adopt header is refused (adopt under another name with --function), and so is a
[functions.<name>] block without verify_jwt = false.
Then prints the commands that deploy it (supabase db push --remote, secrets, functions deploy) and register
a first writer (fedjwt keygen, fedjwt register), and what an adopted migration changes in your own objects:
…_writer_function_privileges revokes PUBLIC's EXECUTE on the functions already in your public schema, and
…_writer_function_default_privileges on the functions postgres creates later, in every schema.

Run it again to upgrade (docs/upgrading.md): a file still as it was adopted (its recorded sha256, or an
unedited file of any earlier release) is updated to the template's, new template migrations are added, and
adopted migrations are never rewritten or re-stamped (recognised by their header). An adoption made before
the manifest existed is recognised and upgraded the same way. Refuses, names the files, and writes nothing
where it would overwrite a file you edited or one of your own, or contradict your config.toml. A name other
than rest is wired into the adopted index.ts (FEDJWT_FUNCTION_NAME's default there).`,
  flags,
  positionals: "<project>",
  examples: ["fedjwt adopt ../my-app --dry-run", "fedjwt adopt ../my-app", "fedjwt adopt ../my-app --examples --json"],
  run: ({ values, positionals }, io) => adopt(values, positionals, io),
});

/** The template's version (its CLI package's) and git commit, when it is a git checkout. */
async function templateVersion(template: string): Promise<Manifest["template"]> {
  const pkg = await diskTemplate(template).read("packages/cli/package.json");
  let version: string | null = null;
  try {
    version = pkg ? ((JSON.parse(pkg) as { version?: string }).version ?? null) : null;
  } catch {
    version = null;
  }
  const git = spawnSync("git", ["-C", template, "rev-parse", "HEAD"], { encoding: "utf8" });
  const commit = git.status === 0 && /^[0-9a-f]{40}$/.test(git.stdout.trim()) ? git.stdout.trim() : null;
  return { version, commit };
}

/** `fedjwt adopt`: plans adding (or upgrading) the function, its sources, the migrations, config and .gitignore entries, then applies the plan. */
export async function adopt(
  values: FlagValues<typeof flags>,
  positionals: string[],
  io: Io,
  now: Date = new Date(),
): Promise<number | undefined> {
  if (positionals.length !== 1) throw new CliError("bad_arguments", "give exactly one project folder (see: fedjwt adopt --help)");
  const given = resolve(positionals[0]!);
  const project = existsSync(given) ? await realpath(given) : given;
  if (values.function !== undefined && !isFunctionName(values.function))
    throw new CliError(
      "bad_arguments",
      `--function ${JSON.stringify(values.function)}: a function name is a letter, then letters, digits, _ or -`,
    );
  if ((await look(project, CONFIG).catch(() => ({ kind: "missing" }) as const)).kind === "missing") {
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

  let plan: Plan;
  try {
    plan = await planAdoption({
      project,
      template,
      source: diskTemplate(template),
      templateInfo: await templateVersion(template),
      functionFlag: values.function,
      examples: values.examples,
      now,
    });
  } catch (e) {
    if (!(e instanceof PlanRefused)) throw e;
    if (values["dry-run"]) return printRefused(io, values.json, project, template, e.refusals);
    throw new CliError(
      e.refusals[0]!.code,
      e.refusals[0]!.code === "bad_manifest" ? e.refusals[0]!.message : refusalText(project, e.refusals),
    );
  }
  if (values["dry-run"]) {
    if (values.json) printJson(io, { dryRun: true, ...described(plan) });
    else io.out(planText(plan));
    return plan.refusals.length > 0 ? 2 : 0;
  }
  if (plan.refusals.length > 0) throw new CliError(plan.refusals[0]!.code, refusalText(project, plan.refusals));
  await applyPlan(plan);
  if (values.json) printJson(io, described(plan));
  else io.out(doneText(plan));
  return 0;
}
