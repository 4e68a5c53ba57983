// adopt's apply: carries out a plan's writes, each checked again at write time. It writes only in the function's
// folder, supabase/functions/_shared/fedjwt/, new adopted migrations, config.toml (its own block appended),
// .gitignore (lines appended) and the manifest, whatever the plan says; never through a link (files.ts).
import { CliError } from "../errors.ts";
import { createFile, removeFile, replaceFile, sha256 } from "./files.ts";
import { MANIFEST } from "./manifest.ts";
import { CONFIG, functionBlock, GITIGNORE, MIGRATIONS } from "./layout.ts";
import type { Plan, Write } from "./types.ts";
import { MIGRATION_MARKER, SHARED } from "./template.ts";

/** Why `w` is not a write adopt makes, or undefined when it is one. */
export function outsideAdopt(w: Write, name: string): string | undefined {
  const current = w.base !== undefined && w.before === sha256(w.base) ? w.base : undefined;
  const parts = w.path.split("/");
  if (w.path.includes("\\") || parts.some((p) => p === "" || p === "." || p === "..")) return "not a plain relative path";
  if (w.path.startsWith(`supabase/functions/${name}/`) || w.path.startsWith(`${SHARED}/`)) return undefined;
  if (w.path === MANIFEST && w.action !== "remove") return undefined;
  if (parts.length === 3 && w.path.startsWith(`${MIGRATIONS}/`)) {
    if (w.action === "create" && /^\d+_[A-Za-z0-9_.-]+\.sql$/.test(parts[2]!) && w.content.startsWith(MIGRATION_MARKER)) return undefined;
    return "in supabase/migrations adopt only adds migrations of the template (with their header)";
  }
  if (w.path === CONFIG) {
    const appended =
      current !== undefined && w.action === "update" && w.content.startsWith(current) ? w.content.slice(current.length) : undefined;
    if (appended !== undefined && appended.replace(/^\n+/, "") === functionBlock(name)) return undefined;
    return `in ${CONFIG} adopt only adds its own [functions.${name}] block`;
  }
  if (w.path === GITIGNORE) {
    if (
      (w.action === "create" && w.before === undefined) ||
      (w.action === "update" && current !== undefined && w.content.startsWith(current))
    )
      return undefined;
    return `in ${GITIGNORE} adopt only adds lines`;
  }
  return `adopt writes only in supabase/functions/${name}/, ${SHARED}/, new migrations, ${CONFIG}'s [functions.${name}] block, ${GITIGNORE} and ${MANIFEST}`;
}

/**
 * Makes the plan's writes in `plan.project`, in order (the manifest last, so a run cut short is finished by the next).
 * Throws before writing anything when a write is no write of adopt's, and at the first write that finds the project
 * changed since the plan (a link, another file): nothing more is written.
 */
export async function applyPlan(plan: Plan): Promise<void> {
  if (plan.refusals.length > 0) throw new CliError("would_overwrite", "a plan with refusals is not applied");
  for (const w of plan.writes) {
    const why = outsideAdopt(w, plan.function);
    if (why !== undefined) throw new CliError("outside_project", `refusing to write ${w.path}: ${why}; nothing more was written`);
  }
  let done = 0;
  try {
    for (const w of plan.writes) {
      if (w.action === "create") await createFile(plan.project, w.path, w.content);
      else if (w.action === "update") await replaceFile(plan.project, w.path, w.content, w.before!);
      else await removeFile(plan.project, w.path, w.before!);
      done++;
    }
  } catch (e) {
    if (e instanceof CliError && done > 0)
      throw new CliError(
        e.code,
        `${e.message} (after ${done} of ${plan.writes.length} changes; nothing more was written; run adopt again)`,
        e.exitCode,
      );
    throw e;
  }
}
