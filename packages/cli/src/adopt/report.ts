// What adopt prints: the plan (--dry-run), what a run did, and a refusal; as text or as JSON.
import { printJson, type Io } from "../output.ts";
import { CONFIG } from "./layout.ts";
import { MANIFEST } from "./manifest.ts";
import { SHARED } from "./template.ts";
import type { Plan, Refusal } from "./types.ts";

/** The refusals as one message: one line per situation. */
export const refusalText = (project: string, refusals: Refusal[]) =>
  `refusing to change ${project}; nothing was written:\n  - ${refusals.map((r) => r.message).join("\n  - ")}`;

/** The plan as --json prints it (the writes' contents left out). */
export function described(plan: Plan) {
  const { writes: _writes, ...rest } = plan;
  return { ...rest, manifest: MANIFEST, manifestStatus: plan.manifest };
}

/** A --dry-run whose plan is only a refusal: printed as a plan, exit 2. */
export function printRefused(io: Io, json: boolean, project: string, template: string, refusals: Refusal[]): number {
  if (json) printJson(io, { dryRun: true, project, template, changed: false, refusals });
  else io.out(`Plan for ${project} (dry run: nothing written)\n${refusalText(project, refusals).replace("; nothing was written", "")}`);
  return 2;
}

const counts = (plan: Plan) => {
  const count = (status: Plan["files"][number]["status"]) => plan.files.filter((f) => f.status === status).length;
  return { create: count("create"), update: count("update"), remove: count("remove"), unchanged: count("unchanged") };
};

/** The --dry-run listing: every change with its reason, what stays, what would be refused, what would follow. */
export function planText(plan: Plan): string {
  const c = counts(plan);
  const width = Math.max(...plan.files.map((f) => f.path.length), ...plan.migrations.map((m) => m.file.length + 20), 30);
  const row = (path: string, what: string, why: string) => `  ${path.padEnd(width)}  ${what.padEnd(9)} ${why}`;
  const lines = [
    `Plan for ${plan.project} (dry run: nothing written), from ${plan.template}:`,
    `the ${plan.function} function, ${plan.adoption === "first" ? "a first adoption" : plan.adoption === "upgrade" ? `an upgrade of the adoption ${MANIFEST} records` : `an upgrade of an adoption made before ${MANIFEST} existed`}`,
    ...plan.files.filter((f) => f.status !== "unchanged").map((f) => row(f.path, f.status, f.why)),
    ...(c.unchanged > 0 ? [`  ${c.unchanged} function files already as the template has them`] : []),
    ...plan.migrations
      .filter((m) => m.status === "create")
      .map((m) => row(`supabase/migrations/${m.file}`, "create", `${m.why} (${m.template})`)),
    ...(plan.migrations.some((m) => m.status === "unchanged")
      ? [`  ${plan.migrations.filter((m) => m.status === "unchanged").length} migrations already adopted (never rewritten)`]
      : []),
    row(
      CONFIG,
      plan.config === "added" ? "append" : "unchanged",
      plan.config === "added" ? `[functions.${plan.function}] (verify_jwt = false)` : `[functions.${plan.function}] already there`,
    ),
    row(
      ".gitignore",
      plan.gitignore.length > 0 ? "append" : "unchanged",
      plan.gitignore.length > 0 ? plan.gitignore.join(" ") : "already ignores keys and secrets",
    ),
    row(
      MANIFEST,
      plan.manifest === "create" ? "create" : plan.manifest === "unchanged" ? "unchanged" : "update",
      "the sha256 of each adopted file, for upgrades",
    ),
    ...(plan.refusals.length > 0 ? ["", `adopt would refuse, and write nothing:`, ...plan.refusals.map((r) => `  - ${r.message}`)] : []),
    ...plan.notes.map((n) => `Note: ${n}.`),
    ...(plan.refusals.length === 0 && plan.next.length > 0
      ? ["", "After adopt, from the project folder:", ...plan.next.map((x) => `  ${x}`)]
      : []),
  ];
  return lines.join("\n");
}

/** What a run that wrote its plan prints. */
export function doneText(plan: Plan): string {
  const c = counts(plan);
  const newMigrations = plan.migrations.filter((m) => m.status === "create");
  const fileSummary = [
    `${c.create} written`,
    ...(c.update ? [`${c.update} updated`] : []),
    ...(c.remove ? [`${c.remove} removed`] : []),
    `${c.unchanged} already up to date`,
  ].join(", ");
  const headline =
    plan.adoption === "first"
      ? `Adopted the ${plan.function} function into ${plan.project}`
      : plan.changed
        ? `Updated the adoption in ${plan.project}${plan.adoption === "pre-manifest" ? ` (made before ${MANIFEST} existed; its files were unedited files of an earlier release)` : ""}: ${c.update} function files updated, ${c.create} written, ${c.remove} removed, ${newMigrations.length} migrations added`
        : `Nothing to change in ${plan.project}: the ${plan.function} function, its migrations and config are as the template has them`;
  const manifestLine = {
    create: "written",
    update: "updated",
    "version only": "updated (the template's version only)",
    unchanged: "unchanged",
  }[plan.manifest];
  return [
    headline,
    `  function files   ${fileSummary} (supabase/functions/${plan.function}, ${SHARED})`,
    `  migrations       ${newMigrations.length} added${newMigrations.length ? `: ${newMigrations.map((m) => m.file).join(", ")}` : ""}; ${plan.migrations.length - newMigrations.length} already adopted`,
    `  config.toml      [functions.${plan.function}] ${plan.config === "added" ? "added (verify_jwt = false)" : "already present"}`,
    `  .gitignore       ${plan.gitignore.length ? `added ${plan.gitignore.join(" ")}` : "already ignores keys and secrets"}`,
    `  ${MANIFEST} ${manifestLine} (the sha256 of each adopted file, for upgrades)`,
    ...plan.notes.map((n) => `Note: ${n}.`),
    ...(plan.next.length > 0 ? ["", "Next, from the project folder:", ...plan.next.map((c) => `  ${c}`)] : []),
    ...(plan.adoption === "first"
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
  ].join("\n");
}
