// What adopt says: one refusal per situation (naming every file it concerns), the commands a run's changes need,
// and what its migrations change in the project's own objects.
import { MANIFEST } from "./manifest.ts";
import type { MigrationStep, Plan, Refusal } from "./types.ts";

/** Paths as one list in a sentence. */
export const list = (paths: string[]) => paths.join(", ");

/** The links and the non-plain files on the way to what adopt writes: one refusal each kind. */
export function linkRefusals(
  links: Array<{ path: string; at: string; to: string }>,
  odd: Array<{ path: string; what: string }>,
): Refusal[] {
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

/** The adopted files that were edited: one refusal, worded for an adoption with a manifest or one made before it. */
export function editedRefusal(adoption: Plan["adoption"], edited: string[], index: string | undefined, migrations: number): Refusal {
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
export function nextCommands(adoption: Plan["adoption"], name: string, newMigrations: boolean, functionChanged: boolean): string[] {
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
export function notes(newMigrations: MigrationStep[], adoption: Plan["adoption"], leftAlone: string[]): string[] {
  const out: string[] = [];
  const revoking = newMigrations.find((m) => m.template.endsWith("_writer_function_privileges.sql"));
  if (revoking)
    out.push(
      `${revoking.file} revokes PUBLIC's EXECUTE on your functions in public: anon and authenticated keep it through Supabase's default privileges on functions created by postgres; for one they reached only through PUBLIC, add grant execute on function public.<f>(…) to anon, authenticated`,
    );
  const later = newMigrations.find((m) => m.template.endsWith("_writer_function_default_privileges.sql"));
  if (later)
    out.push(
      `${later.file} gives no EXECUTE to PUBLIC on functions postgres creates from then on, in any schema, and takes it from those already in public: there anon and authenticated still get it by Supabase's default privileges (with auto_expose_new_tables = false under [api] in config.toml, grant it to them); elsewhere (e.g. a private helper your policies call) grant it, e.g. grant execute on function private.<f>(…) to authenticated (docs/database.md)`,
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
