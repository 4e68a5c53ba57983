import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root: the nearest folder above this package that holds `supabase/config.toml`. */
export function repoRoot(): string {
  let dir = here;
  for (;;) {
    if (existsSync(join(dir, "supabase", "config.toml"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the repository root (a folder with supabase/config.toml)");
    dir = up;
  }
}

/** This package's folder (works from src/ under Node's type stripping and from dist/). */
export const packageDir = resolve(here, "..");

/** The bundled SQL files (src/sql), wherever this module runs from. */
export const sqlDir = join(packageDir, "src", "sql");

/** The Supabase CLI's Node launcher from the `supabase` npm package. */
export function supabaseCliPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("supabase/package.json")), "dist", "supabase.js");
}
