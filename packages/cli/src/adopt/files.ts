// The project's files as adopt sees and changes them: never through a symbolic link. Reads look at each folder on
// the way with lstat; writes check the path again at write time, open the file with O_NOFOLLOW (O_EXCL for a new
// one), and check what they opened (a regular file with one link, in the folder they meant, with the content the
// plan saw) before a byte is written.
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { lstat, mkdir, open, readdir, readlink, realpath, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { CliError } from "../errors.ts";

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** What is at a project path, links never followed: the first link (or non-folder) on the way is what is named. */
export type Look =
  | { kind: "missing" }
  | { kind: "file"; content: string; nlink: number }
  | { kind: "dir" }
  | { kind: "link"; at: string; to: string }
  | { kind: "other"; at: string; what: string };

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** Looks at `rel` (posix, relative to `project`, which is a real path) without following any link. */
export async function look(project: string, rel: string): Promise<Look> {
  const parts = rel.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const at = parts.slice(0, i).join("/");
    const path = join(project, at);
    const st = await lstat(path).catch((e) => {
      if (errno(e) === "ENOENT") return undefined;
      throw new CliError("file_unreadable", `cannot read ${at}: ${errno(e) ?? "error"}`, 1);
    });
    if (st === undefined) return { kind: "missing" };
    if (st.isSymbolicLink()) return { kind: "link", at, to: await readlink(path).catch(() => "?") };
    const last = i === parts.length;
    if (!last && !st.isDirectory()) return { kind: "other", at, what: "not a folder" };
    if (last && st.isDirectory()) return { kind: "dir" };
    if (last && !st.isFile()) return { kind: "other", at, what: "not a regular file" };
    if (last) {
      const content = await readNoFollow(path, at);
      return { kind: "file", content, nlink: st.nlink };
    }
  }
  return { kind: "missing" };
}

async function readNoFollow(path: string, rel: string): Promise<string> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!(await fh.stat()).isFile()) throw new CliError("would_overwrite", `${rel} is not a regular file`);
    return await fh.readFile("utf8");
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError("file_unreadable", `cannot read ${rel}: ${errno(e) ?? "error"}`, 1);
  } finally {
    await fh?.close();
  }
}

/** The regular files under the real folder `rel` (relative paths), links and anything else left out. */
export async function listFiles(project: string, rel: string): Promise<string[]> {
  const l = await look(project, rel);
  if (l.kind !== "dir") return [];
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const e of await readdir(join(project, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(rel);
  return out.sort();
}

/** A refusal at write time: the project changed under adopt (a link or another file put where the plan saw none). */
const refused = (rel: string, why: string) =>
  new CliError("outside_project", `refusing to write ${rel}: ${why}; adopt writes only real files in real folders, never through a link`);

/** Makes sure every folder on the way to `rel` is a real folder inside the project (creating missing ones, one by one). */
async function realFolders(project: string, rel: string, create: boolean): Promise<void> {
  const parts = rel.split("/").slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const at = parts.slice(0, i).join("/");
    const path = join(project, at);
    let st = await lstat(path).catch(() => undefined);
    if (st === undefined && create) {
      await mkdir(path).catch((e) => {
        if (errno(e) !== "EEXIST") throw new CliError("file_unwritable", `cannot create ${at}: ${errno(e) ?? "error"}`, 1);
      });
      st = await lstat(path).catch(() => undefined);
    }
    if (st === undefined) throw refused(rel, `${at} is missing`);
    if (st.isSymbolicLink()) throw refused(rel, `${at} is a symbolic link`);
    if (!st.isDirectory()) throw refused(rel, `${at} is not a folder`);
  }
}

/** After open: the file is a regular one with one link, and it is the one at `rel` in the real folder expected. */
async function opened(project: string, rel: string, fh: FileHandle): Promise<void> {
  const st = await fh.stat();
  if (!st.isFile()) throw refused(rel, "it is not a regular file");
  if (st.nlink !== 1) throw refused(rel, "it has other hard links (a change would reach them too)");
  const path = join(project, rel);
  const parent = rel.includes("/") ? join(project, rel.slice(0, rel.lastIndexOf("/"))) : project;
  const real = await realpath(parent).catch(() => undefined);
  const now = await lstat(path).catch(() => undefined);
  if (real !== parent || now === undefined || now.ino !== st.ino || now.dev !== st.dev)
    throw refused(rel, "its folder was replaced while adopt ran");
}

/** Writes a new file at `rel`: fails when anything (a link included) is already there. */
export async function createFile(project: string, rel: string, content: string): Promise<void> {
  await realFolders(project, rel, true);
  let fh: FileHandle | undefined;
  try {
    fh = await open(join(project, rel), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644).catch(
      (e) => {
        if (errno(e) === "EEXIST" || errno(e) === "ELOOP") throw refused(rel, "something appeared there after adopt looked");
        throw new CliError("file_unwritable", `cannot write ${rel}: ${errno(e) ?? "error"}`, 1);
      },
    );
    try {
      await opened(project, rel, fh);
    } catch (e) {
      await unlink(join(project, rel)).catch(() => {}); // the empty file just made, wherever it went
      throw e;
    }
    await fh.writeFile(content);
  } finally {
    await fh?.close();
  }
}

/** Replaces the content of the file at `rel`, which must still hold what the plan saw (its sha256 `before`). */
export async function replaceFile(project: string, rel: string, content: string, before: string): Promise<void> {
  await realFolders(project, rel, false);
  let fh: FileHandle | undefined;
  try {
    fh = await open(join(project, rel), constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((e) => {
      if (errno(e) === "ELOOP") throw refused(rel, "it is a symbolic link");
      throw new CliError("file_unwritable", `cannot write ${rel}: ${errno(e) ?? "error"}`, 1);
    });
    await opened(project, rel, fh);
    if (sha256(await fh.readFile("utf8")) !== before) throw refused(rel, "it changed while adopt ran");
    await fh.truncate(0);
    const bytes = Buffer.from(content, "utf8");
    for (let at = 0; at < bytes.length; ) at += (await fh.write(bytes, at, bytes.length - at, at)).bytesWritten;
  } finally {
    await fh?.close();
  }
}

/** Removes the file at `rel`, which must still hold what the plan saw (its sha256 `before`). */
export async function removeFile(project: string, rel: string, before: string): Promise<void> {
  await realFolders(project, rel, false);
  let fh: FileHandle | undefined;
  try {
    fh = await open(join(project, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((e) => {
      if (errno(e) === "ELOOP") throw refused(rel, "it is a symbolic link");
      throw new CliError("file_unwritable", `cannot remove ${rel}: ${errno(e) ?? "error"}`, 1);
    });
    await opened(project, rel, fh);
    if (sha256(await fh.readFile("utf8")) !== before) throw refused(rel, "it changed while adopt ran");
    await unlink(join(project, rel));
  } finally {
    await fh?.close();
  }
}
