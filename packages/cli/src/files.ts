import { constants } from "node:fs";
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { CliError } from "./errors.ts";

/** Reads a text file, turning "not found" and friends into one clear line. */
export async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : "unreadable";
    throw new CliError("file_unreadable", `cannot read ${what} ${path}: ${why}`);
  }
}

/** Creates a directory (mode 0700 when new) or fails with one line. */
export async function ensureDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: 0o700 });
  } catch {
    throw new CliError("file_unwritable", `cannot create directory ${path}`, 1);
  }
}

/** Writes a file with an exact mode; never follows into an existing file unless `force`. */
export async function writeNew(path: string, content: string, mode: number, force: boolean): Promise<void> {
  if (force) await unlink(path).catch(() => undefined);
  let handle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new CliError("file_exists", `${path} already exists; pass --force to overwrite it`);
    }
    throw new CliError("file_unwritable", `cannot write ${path}`, 1);
  }
  try {
    await handle.chmod(mode); // the umask may have narrowed or widened nothing; make it exact
    await handle.writeFile(content, "utf8");
  } finally {
    await handle.close();
  }
}
