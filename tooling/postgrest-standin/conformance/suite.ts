// The upstream suite lives outside this repository: postgrest-js's tests cannot be committed here (no code from
// a public repository in this repository's history). The conformance run takes a local checkout of
// supabase/supabase-js at the commit in upstream-files.json, checks that every file it needs is there and
// unchanged (SHA-256), and copies them into a temporary folder with the base URL replaced. Nothing is written
// into the repository or into the checkout.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));

interface Manifest {
  repository: string;
  commit: string;
  directory: string;
  sha256: Record<string, string>;
}
export const manifest = JSON.parse(await readFile(join(here, "upstream-files.json"), "utf8")) as Manifest;

/** The server address in the upstream tests (the Supabase CLI's local API), replaced by the stand-in's. */
const UPSTREAM_URL = "'http://localhost:54321/rest/v1'";
const REPLACEMENT = "process.env.CONFORMANCE_REST_URL as string";

/** How to get the suite: printed whenever it is missing or wrong. */
export const HOW_TO_GET_IT =
  `git clone ${manifest.repository} <dir> && git -C <dir> checkout ${manifest.commit}, ` +
  `then POSTGREST_JS_DIR=<dir>/${manifest.directory} pnpm conformance (or node conformance/run.ts --suite <dir>/${manifest.directory})`;

export class SuiteError extends Error {}

/** The suite directory from `--suite <dir>` or POSTGREST_JS_DIR, or undefined when neither is given. */
export function suiteDirFromArgs(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  const i = argv.indexOf("--suite");
  if (i >= 0) {
    const dir = argv[i + 1];
    if (!dir || dir.startsWith("--")) throw new SuiteError("--suite needs a directory: " + HOW_TO_GET_IT);
    return resolve(dir);
  }
  return env.POSTGREST_JS_DIR ? resolve(env.POSTGREST_JS_DIR) : undefined;
}

/** The checkout's commit, or undefined when `dir` is not inside a git work tree (an unpacked archive). */
function gitHead(dir: string): string | undefined {
  try {
    return execFileSync("git", ["-C", dir, "rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

export interface PreparedSuite {
  /** Temporary folder holding src/ and test/ as upstream, but for the base URL of the test files. */
  root: string;
  /** Test files (relative to test/) that talk to the server: the ones the pass rate counts. */
  serverFiles: Set<string>;
}

/**
 * Checks `dir` (a checkout's packages/core/postgrest-js) against upstream-files.json and copies the files into a
 * temporary folder, replacing the server address of the test files. Throws SuiteError with what is wrong.
 */
export async function prepareSuite(dir: string): Promise<PreparedSuite> {
  const expectation = `expected ${manifest.directory} of a checkout of ${manifest.repository} at commit ${manifest.commit}`;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new SuiteError(`${dir} is not a directory: ${expectation}. ${HOW_TO_GET_IT}`);
  const head = gitHead(dir);
  if (head !== undefined && head !== manifest.commit) {
    throw new SuiteError(`${dir} is checked out at ${head}: ${expectation}. Run git -C ${dir} checkout ${manifest.commit}`);
  }
  const missing: string[] = [];
  const changed: string[] = [];
  const contents = new Map<string, string>();
  for (const [file, sha] of Object.entries(manifest.sha256)) {
    const path = join(dir, file);
    if (!existsSync(path)) {
      missing.push(file);
      continue;
    }
    const bytes = await readFile(path);
    if (createHash("sha256").update(bytes).digest("hex") !== sha) changed.push(file);
    contents.set(file, bytes.toString("utf8"));
  }
  if (missing.length) {
    const list = missing.length > 4 ? `${missing.slice(0, 3).join(", ")} and ${missing.length - 3} more files` : missing.join(", ");
    throw new SuiteError(`${dir}: missing ${list}: ${expectation}. ${HOW_TO_GET_IT}`);
  }
  if (changed.length) {
    throw new SuiteError(
      `${dir}: ${changed.join(", ")} not as at ${manifest.commit}: ${expectation}` +
        (head === undefined ? " (not a git checkout: take a clone)" : `; git -C ${dir} status shows local changes`),
    );
  }

  const root = await mkdtemp(join(tmpdir(), "postgrest-js-suite-"));
  const serverFiles = new Set<string>();
  for (const [file, text] of contents) {
    let out = text;
    if (file.startsWith("test/") && file.endsWith(".test.ts")) {
      if (!text.includes(UPSTREAM_URL)) throw new SuiteError(`${dir}/${file} does not name ${UPSTREAM_URL}: ${expectation}`);
      out = text.replaceAll(UPSTREAM_URL, REPLACEMENT);
      serverFiles.add(file.slice("test/".length));
    }
    await mkdir(dirname(join(root, file)), { recursive: true });
    await writeFile(join(root, file), out);
  }
  // Compiler settings for the copied files (upstream's tsconfig extends files of its monorepo).
  await writeFile(
    join(root, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "ES2023",
          module: "ESNext",
          moduleResolution: "Bundler",
          strict: true,
          verbatimModuleSyntax: false,
          isolatedModules: true,
          skipLibCheck: true,
        },
      },
      null,
      2,
    ),
  );
  return { root, serverFiles };
}
