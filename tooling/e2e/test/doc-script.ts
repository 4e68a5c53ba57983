// Runs what a document prints as a reader would: its shell blocks' lines in one bash script, with `fedjwt` and
// `pnpm fedjwt` being the built CLI, and the placeholders only the reader knows filled from a table.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../../packages/cli/dist/bin.js", import.meta.url));

/** The lines of a markdown file's blocks in `langs` (sh, bash, shell by default), continuation lines joined, comments out. */
export function blockLines(markdown: string, langs: readonly string[] = ["sh", "bash", "shell"]): string[] {
  const lines: string[] = [];
  for (const m of markdown.matchAll(/^( *)```(\w*)\n([\s\S]*?)^\1```/gm)) {
    if (!langs.includes(m[2]!)) continue;
    for (const raw of m[3]!.replace(/\\\n\s*/g, " ").split("\n")) {
      const line = raw.trim();
      if (line && !line.startsWith("#") && !line.startsWith("--")) lines.push(line);
    }
  }
  return lines;
}

/** The code of a markdown file's blocks in one language, in order (e.g. all `python` blocks: one script). */
export function blocks(markdown: string, lang: string): string[] {
  return [...markdown.matchAll(new RegExp(`^( *)\`\`\`${lang}\\n([\\s\\S]*?)^\\1\`\`\``, "gm"))].map((m) => m[2]!);
}

/** The lines a reader runs to use fedjwt: its commands (bare, through pnpm, or in a $(…)), and the exports the doc sets. */
export function fedjwtLines(markdown: string): string[] {
  return blockLines(markdown).filter((l) => /^(export \w+=|(\w+=\$\()?(pnpm )?fedjwt (?!adopt\b))/.test(l));
}

/** Lines with the placeholders filled (a trailing `# comment` dropped); what is left unfilled is reported. */
export function fill(lines: string[], placeholders: ReadonlyArray<readonly [string, string]>): { script: string[]; unknown: string[] } {
  const script = lines.map((l) => placeholders.reduce((acc, [from, to]) => acc.split(from).join(to), l.replace(/\s+#\s.*$/, "")));
  const unknown = script.flatMap((l) => [...l.matchAll(/<[^>\s]+(?: [^>\s]+)*>|…/g)].map((m) => `${m[0]} in: ${l}`));
  return { script, unknown };
}

/**
 * Runs lines as one bash script (`set -e -x`) in `cwd`: `fedjwt` and `pnpm fedjwt` (the workspace's bin,
 * packages/cli/bin/fedjwt.js → dist/bin.js, run in the folder it is typed in) are the built CLI, `python3` is
 * `python` when given; SUPABASE_* variables are unset and `env` is added.
 */
export function runScript(
  lines: string[],
  cwd: string,
  env: Record<string, string> = {},
  python?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const shims = join(cwd, ".shims");
  mkdirSync(shims, { recursive: true });
  writeFileSync(join(shims, "fedjwt"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 });
  writeFileSync(
    join(shims, "pnpm"),
    `#!/bin/sh\n[ "$1" = fedjwt ] || { echo "pnpm $1: not run by this test" >&2; exit 99; }\nshift\nexec "${process.execPath}" "${BIN}" "$@"\n`,
    { mode: 0o755 },
  );
  if (python) writeFileSync(join(shims, "python3"), `#!/bin/sh\nexec "${python}" "$@"\n`, { mode: 0o755 });
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^SUPABASE_/.test(k)) base[k] = v;
  return new Promise((resolve) => {
    const child = spawn("bash", ["-e", "-x", "-c", lines.join("\n")], {
      cwd,
      env: { ...base, PATH: `${shims}:${process.env.PATH}`, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
