import { CliError } from "./errors.ts";

const LABEL = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * The short name of a target used in key file names: the first DNS label of its host
 * (`https://prod-abc123.supabase.co` → `prod-abc123`), `local` for localhost and IP addresses,
 * or the value itself when it is already a plain label (`staging`).
 */
export function targetLabel(target: string): string {
  const value = target.trim().toLowerCase();
  if (LABEL.test(value)) return value;
  let host: string;
  try {
    host = new URL(value.includes("://") ? value : `https://${value}`).hostname;
  } catch {
    throw new CliError("bad_target", `--target ${JSON.stringify(target)} is neither a URL nor a plain name like "staging"`);
  }
  if (host === "localhost" || host.startsWith("[") || /^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return "local";
  const first = host.split(".")[0] ?? "";
  if (!LABEL.test(first)) throw new CliError("bad_target", `cannot derive a name from --target host ${JSON.stringify(host)}`);
  return first;
}
