// --local: where the CLI finds the running local stack (its state file, else `supabase start`'s defaults), and that
// it stands alone (never mixed with --url or a key); `fedjwt policy` and a key-less register, before any request.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { localTarget, SUPABASE_LOCAL } from "../src/local.ts";
import { fedjwt, tempDir, type Run } from "./helpers.ts";

function refused(r: Run, pattern: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

/** A state file as `pnpm stack start` writes it, for a process that is alive (this one) or not. */
function stateFile(dir: string, pid: number, apiUrl = "http://127.0.0.1:9"): string {
  mkdirSync(join(dir, ".local"), { recursive: true });
  const file = join(dir, ".local", "stack.json");
  writeFileSync(
    file,
    JSON.stringify({
      pid,
      info: { API_URL: apiUrl, SECRET_KEY: "sb_secret_from_state", PUBLISHABLE_KEY: "sb_publishable_from_state", FEDJWT_AUDIENCE: apiUrl },
    }),
  );
  return file;
}

describe("localTarget", () => {
  it("reads .local/stack.json in the working folder or above when its process is alive", () => {
    const dir = tempDir();
    const file = stateFile(dir, process.pid, "http://127.0.0.1:40001");
    const sub = join(dir, "a", "b");
    mkdirSync(sub, { recursive: true });
    expect(localTarget({}, sub)).toEqual({
      url: "http://127.0.0.1:40001",
      secretKey: "sb_secret_from_state",
      publishableKey: "sb_publishable_from_state",
      audience: "http://127.0.0.1:40001",
      stateFile: file,
    });
  });

  it("a state file whose process is gone is stale: the Supabase CLI's local defaults instead", () => {
    const dir = tempDir();
    stateFile(dir, 2 ** 22 + 12345);
    const t = localTarget({}, dir);
    // Unless this CLI itself sits in a checkout with a running stack (a developer's machine).
    if (t.stateFile === undefined) expect(t).toEqual({ ...SUPABASE_LOCAL, audience: undefined, stateFile: undefined });
    else expect(t.stateFile).not.toBe(join(dir, ".local", "stack.json"));
  });

  it("FEDJWT_STACK_STATE names the file; when its stack is not running that is an error, not a fallback", () => {
    const dir = tempDir();
    const file = stateFile(dir, process.pid, "http://127.0.0.1:40002");
    expect(localTarget({ FEDJWT_STACK_STATE: file }, "/").url).toBe("http://127.0.0.1:40002");
    const stale = stateFile(tempDir(), 2 ** 22 + 12345);
    expect(() => localTarget({ FEDJWT_STACK_STATE: stale }, "/")).toThrow(/--local: no running stack in/);
  });
});

describe("--local on the command line", () => {
  it("does not mix with --url or --service-role-key", () => {
    refused(fedjwt(["list", "--local", "--url", "http://x.test"]), /--local gives the URL and keys: leave out --url/);
    refused(
      fedjwt(["doctor", "--local", "--anon-key", "k", "--service-role-key", "s"]),
      /--local gives the URL and keys: leave out --anon-key and --service-role-key/,
    );
  });

  it("names the stack it could not reach", () => {
    const dir = tempDir();
    const file = stateFile(dir, process.pid, "http://127.0.0.1:9");
    const r = fedjwt(["list", "--local"], { env: { FEDJWT_STACK_STATE: file } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9 .*the local stack in .*stack\.json does not answer/);
  });

  it("a missing --url says --local is the other way", () => {
    const r = fedjwt(["list"], { env: { SUPABASE_URL: "" } });
    expect(r.stderr).toMatch(/--url \(or SUPABASE_URL\), or --local for the local stack, is required/);
  });

  it("every command that talks to a project takes --local, and says so in its help", () => {
    for (const command of ["register", "policy", "list", "deactivate", "rotate", "doctor"])
      expect(fedjwt([command, "--help"]).stdout, command).toMatch(/--local\s+the running local stack/);
  });
});

describe("a policy change alone", () => {
  const conn = ["--url", "http://127.0.0.1:9", "--service-role-key", "sb_secret_x"];

  it("policy and a key-less register need a policy flag, and key flags need a key", () => {
    refused(fedjwt(["policy", "--issuer", "orders-service", ...conn]), /nothing to change: give a policy flag/);
    refused(fedjwt(["register", "--issuer", "orders-service", ...conn]), /nothing to change: .* or a key \(--public-key/);
    refused(fedjwt(["register", "--issuer", "orders-service", "--kid", "k1", "--rate-limit", "2", ...conn]), /--kid describes a key/);
    refused(fedjwt(["policy", "--issuer", "orders-service", "--rate-limit", "fast", ...conn]), /--rate-limit must be a number/);
    refused(fedjwt(["policy", "--issuer", "orders-service", "--public-key", "x.pub", ...conn]), /Unknown option '--public-key'/);
  });

  it("is listed in fedjwt --help", () => {
    expect(fedjwt(["--help"]).stdout).toMatch(/^ {2}policy\s+change a registered issuer's policy/m);
  });
});
