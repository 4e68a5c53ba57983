// supabase/fedjwt-adopted.json: what adopt recorded, checked before anything trusts it.
import { CliError } from "../errors.ts";

/** Where adopt records what it adopted, relative to the project. */
export const MANIFEST = "supabase/fedjwt-adopted.json";

/** The manifest: what the template was, and the sha256 of every file adopt wrote (paths relative to the project). */
export interface Manifest {
  manifest: 1;
  template: { version: string | null; commit: string | null };
  function: string;
  files: Record<string, string>;
  migrations: Record<string, { file: string; sha256: string }>;
}

/** A function name as Supabase takes it (and not _shared, the folder of shared code). */
export const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
export const isFunctionName = (name: string) => FUNCTION_NAME.test(name) && name !== "_shared";

const SHA256 = /^[0-9a-f]{64}$/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A refusal to trust the manifest, naming what is wrong. */
export const badManifest = (why: string) =>
  new CliError("bad_manifest", `${MANIFEST} is not a manifest fedjwt adopt wrote (${why}); restore it from version control`);

/**
 * The manifest in `text`, checked before anything trusts it: a function name, sha256 hashes, and only files adopt
 * writes (in the function's folder or _shared/fedjwt, spelled without `.`, `..` or a backslash), since an upgrade deletes
 * the unedited files it lists. Anything else is bad_manifest, naming what is wrong. (Whether its function is really
 * the adopted one is checked against that folder's index.ts by the plan.)
 */
export function parseManifest(text: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw badManifest("not JSON");
  }
  if (!isRecord(m) || m.manifest !== 1) throw badManifest('no "manifest": 1');
  const name = m.function;
  if (typeof name !== "string" || !isFunctionName(name)) throw badManifest(`its function, ${JSON.stringify(name)}, is not a function name`);
  if (!isRecord(m.files)) throw badManifest("its files are not an object");
  const folders = [`supabase/functions/${name}/`, "supabase/functions/_shared/fedjwt/"];
  for (const [path, hash] of Object.entries(m.files)) {
    const plain = !path.includes("\\") && path.split("/").every((part) => part !== "" && part !== "." && part !== "..");
    if (!plain || !folders.some((f) => path.startsWith(f)))
      throw badManifest(`it lists ${JSON.stringify(path)}, not a file adopt writes (those are in ${folders.join(" and ")})`);
    if (typeof hash !== "string" || !SHA256.test(hash)) throw badManifest(`the sha256 it records for ${JSON.stringify(path)} is not one`);
  }
  if (!isRecord(m.migrations)) throw badManifest("its migrations are not an object");
  for (const [t, r] of Object.entries(m.migrations))
    if (!isRecord(r) || typeof r.file !== "string" || typeof r.sha256 !== "string" || !SHA256.test(r.sha256))
      throw badManifest(`its record of the migration ${JSON.stringify(t)} has no file and sha256`);
  return m as unknown as Manifest;
}
