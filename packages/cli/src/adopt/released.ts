// The sha256 of every version of every file adopt has written, by path (function files as adopted under the name
// rest, which every adoption made before the manifest used) and by template migration (with its header line).
// released.json is generated from this repository's git history by `pnpm --filter @fedjwt/cli released`
// (packages/cli/scripts/released-files.ts); a test fails when the current template's files are not in it.
import released from "./released.json" with { type: "json" };

/** What released.json holds. */
export interface Released {
  files: Record<string, string[]>;
  migrations: Record<string, string[]>;
}

const RELEASED: Released = released;

/** Whether `sha256` is a version of the project file `path` (function folder rest) that some release of the template adopted. */
export const releasedFile = (path: string, sha256: string): boolean => RELEASED.files[path]?.includes(sha256) ?? false;

/** Whether `sha256` is the adopted text (header included) of some release's version of the template migration `template`. */
export const releasedMigration = (template: string, sha256: string): boolean => RELEASED.migrations[template]?.includes(sha256) ?? false;
