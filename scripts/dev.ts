// pnpm dev: bring the federated setup up and show it working.
//   1. a local Supabase: `supabase start` + `supabase functions serve` (the pinned CLI) when a Docker engine answers,
//      otherwise the Docker-free stack (tooling/local-stack), left running in the background;
//   2. the sample writers' keys (keys/, gitignored), generated once;
//   3. both writers registered (idempotent): orders-service by public key, inventory-service by JWKS URL (with
//      Docker by its public JWK: a function in a container cannot reach a JWKS on the host's 127.0.0.1);
//   4. both writers run: allowed writes and a write each one's policy denies; plus a forged token and a
//      writer impersonating a Supabase Auth user (it runs as its writer role, with a derived subject);
//   5. a summary: what happened, the URLs and keys, how to stop.
import { existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import crossSpawn from "cross-spawn";
import { main as fedjwt } from "@fedjwt/cli";
import { runInventoryWriter } from "@fedjwt/inventory-writer";
import { serveJwks } from "@fedjwt/inventory-writer/jwks-server";
import { runOrdersWriter } from "@fedjwt/orders-writer";
import { showKeylessWriter } from "./dev-keyless.ts";
import { createSigner, toJwks } from "@fedjwt/signer";

const root = join(import.meta.dirname, "..");
const keysDir = join(root, "keys");
const useDocker = process.env.FEDJWT_NO_DOCKER !== "1" && !process.argv.includes("--no-docker") && dockerAnswers();
const step = (n: number, text: string) => console.log(`\n[${n}/5] ${text}`);

/** How to leave the Docker path, printed with every failure on it. */
const NO_DOCKER_HINT = "To use the Docker-free local stack instead: pnpm dev --no-docker";

function dockerAnswers(): boolean {
  const r = crossSpawn.sync("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 5000, stdio: "pipe" });
  return r.status === 0;
}

/** Runs a command to completion (cross-spawn: Windows `.cmd` shims work); a command that cannot start says why. */
function run(cmd: string, args: string[]): { code: number | null; out: string } {
  const r = crossSpawn.sync(cmd, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.error) return { code: null, out: `could not run ${cmd}: ${r.error.message}` };
  return { code: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** The pinned Supabase CLI (the root devDependency `supabase`, the version tooling/local-db uses), run by this Node. */
function supabaseCli(): [string, string[]] {
  const pkgFile = createRequire(join(root, "package.json")).resolve("supabase/package.json");
  const bin = (JSON.parse(readFileSync(pkgFile, "utf8")) as { bin: { supabase: string } }).bin.supabase;
  return [process.execPath, [join(dirname(pkgFile), bin)]];
}

/** Runs the pinned Supabase CLI with its output streamed to the user; gives the exit code and the output's tail. */
function supabaseStreamed(args: string[]): Promise<{ code: number | null; tail: string }> {
  const [cmd, pre] = supabaseCli();
  return new Promise((resolve) => {
    let tail = "";
    const keep = (chunk: Buffer, to: NodeJS.WriteStream) => {
      to.write(chunk);
      tail = (tail + chunk.toString("utf8")).slice(-4000);
    };
    const child = crossSpawn(cmd, [...pre, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (c: Buffer) => keep(c, process.stdout));
    child.stderr?.on("data", (c: Buffer) => keep(c, process.stderr));
    child.on("error", (e) => resolve({ code: null, tail: `could not run the Supabase CLI: ${e.message}` }));
    child.on("close", (code) => resolve({ code, tail }));
  });
}

/** The last lines of a command's output, indented, for an error message. */
const lastLines = (text: string, n = 15) =>
  text
    .trim()
    .split("\n")
    .slice(-n)
    .map((l) => `  ${l}`)
    .join("\n");

/**
 * Waits until the `rest` function itself answers through the gateway (its 401 `token_missing` to a request with
 * no token); each try may take a minute, since the first one boots the worker. Fails when `functions serve`
 * exits or after `timeoutMs`.
 */
async function functionAnswers(apiUrl: string, anonKey: string, served: { exited: boolean }, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline && !served.exited) {
    try {
      const r = await fetch(`${apiUrl}/functions/v1/rest/widgets`, { headers: { apikey: anonKey }, signal: AbortSignal.timeout(60_000) });
      const text = await r.text();
      if (r.status === 401 && text.includes('"token_missing"')) return;
      last = `${r.status} ${text.slice(0, 200)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const log = existsSync(functionLog()) ? readFileSync(functionLog(), "utf8") : "";
  throw new Error(
    `${served.exited ? "supabase functions serve exited" : `the rest function did not answer within ${timeoutMs / 1000} s (last: ${last})`}; its log (.local/functions.log):\n${lastLines(log)}`,
  );
}

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^([A-Z_]+)="?([^"\n]*)"?$/gm)) env[m[1]!] = m[2]!;
  return env;
}

async function cli(args: string[], env: Record<string, string>): Promise<string> {
  let out = "";
  const io = { out: (t: string) => (out += `${t}\n`), err: (t: string) => (out += `${t}\n`) };
  Object.assign(process.env, env);
  const code = await fedjwt(args, io);
  if (code !== 0) throw new Error(`fedjwt ${args[0]} failed:\n${out}`);
  return out.trimEnd();
}

/** Where the running function's output goes: the Docker-free stack's log, or functions serve's. */
const functionLog = () => join(root, ".local", useDocker ? "functions.log" : "stack.log");
const logSize = () => (existsSync(functionLog()) ? statSync(functionLog()).size : 0);

/** The function's access lines written after byte `from` (from the start if the log was rotated since), waiting (≤ 3 s) for the log to catch up. */
async function accessLines(from: number): Promise<Array<Record<string, unknown>>> {
  let lines: Array<Record<string, unknown>> = [];
  for (let i = 0, last = -1; i < 30 && !(lines.length > 0 && lines.length === last); i++) {
    last = lines.length;
    await new Promise((r) => setTimeout(r, 100));
    const all = existsSync(functionLog()) ? readFileSync(functionLog()) : Buffer.alloc(0);
    const text = all.subarray(all.length < from ? 0 : from).toString("utf8");
    lines = text.split("\n").flatMap((l) => {
      const json = l.indexOf('{"');
      try {
        const e = json >= 0 ? (JSON.parse(l.slice(json)) as Record<string, unknown>) : undefined;
        return e?.event === "request" || e?.event === "request_rejected" ? [e] : [];
      } catch {
        return [];
      }
    });
  }
  return lines;
}

/** Starts the local Supabase and returns `status -o env` values. */
async function startSupabase(): Promise<Record<string, string>> {
  if (useDocker) {
    console.log("  Docker answers: using the pinned Supabase CLI (supabase start + supabase functions serve)");
    const started = await supabaseStreamed([
      "start",
      "-x",
      "studio,imgproxy,logflare,vector,supavisor,realtime,storage-api,mailpit,postgres-meta",
    ]);
    if (started.code !== 0) throw new Error(`supabase start failed (exit ${started.code ?? "none"}):\n${lastLines(started.tail)}`);
    const [cmd, pre] = supabaseCli();
    const status = run(cmd, [...pre, "status", "-o", "env"]);
    const env = parseEnv(status.out);
    if (status.code !== 0 || !env.API_URL) throw new Error(`supabase status failed:\n${lastLines(status.out)}`);
    mkdirSync(join(root, ".local"), { recursive: true });
    const log = openSync(functionLog(), "a");
    const serve = crossSpawn(cmd, [...pre, "functions", "serve", "--env-file", "supabase/functions/.env"], {
      cwd: root,
      detached: true,
      stdio: ["ignore", log, log],
    });
    const served = { exited: false };
    serve.on("exit", () => (served.exited = true));
    serve.on("error", () => (served.exited = true));
    serve.unref();
    writeFileSync(join(root, ".local", "functions.pid"), String(serve.pid ?? ""));
    console.log("  supabase functions serve started (log: .local/functions.log); waiting for the rest function to answer");
    try {
      await functionAnswers(env.API_URL, env.ANON_KEY ?? "", served);
    } catch (e) {
      if (!served.exited && serve.pid !== undefined) process.kill(serve.pid); // ours: no serve left behind on failure
      throw e;
    }
    return env;
  }
  console.log(
    `  ${process.env.FEDJWT_NO_DOCKER === "1" || process.argv.includes("--no-docker") ? "Docker skipped on request" : "No Docker engine"}: using the Docker-free local stack (PostgreSQL 17, PostgREST stand-in, Deno, gateway)`,
  );
  const started = run(process.execPath, [join(root, "tooling/local-stack/dist/cli.js"), "start", "--detach"]);
  if (started.code !== 0) throw new Error(started.out.trim());
  for (const line of started.out.split("\n").slice(0, 1)) console.log(`  ${line}`);
  const status = run(process.execPath, [join(root, "tooling/local-stack/dist/cli.js"), "status"]).out;
  // A function that failed to load is served as a 500 while the others run: say which, here and not only in the log.
  for (const line of status.split("\n").filter((l) => /^# function .* BROKEN/.test(l))) console.log(`  ${line.slice(2)}`);
  return parseEnv(status);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  step(1, "Local Supabase");
  const fnEnv = join(root, "supabase", "functions", ".env");
  if (!existsSync(fnEnv)) {
    // Local values only: the well-known local JWT secret that `supabase start` and the local stack use.
    writeFileSync(
      fnEnv,
      "FEDJWT_AUDIENCE=http://127.0.0.1:54321\nFEDJWT_LEGACY_JWT_SECRET=super-secret-jwt-token-with-at-least-32-characters-long\n",
    );
    console.log("  wrote supabase/functions/.env (local audience and the local JWT secret)");
  }
  const status = await startSupabase();
  const apiUrl = status.API_URL ?? "http://127.0.0.1:54321";
  const anonKey = status.ANON_KEY ?? "";
  const serviceKey = status.SERVICE_ROLE_KEY ?? "";
  const env = { SUPABASE_URL: apiUrl, SUPABASE_SERVICE_ROLE_KEY: serviceKey };
  const audience = parseEnv(readFileSync(fnEnv, "utf8")).FEDJWT_AUDIENCE ?? apiUrl;

  step(2, "Writer keys (keys/, gitignored)");
  for (const [issuer, alg] of [
    ["orders-service", "ES256"],
    ["inventory-service", "EdDSA"],
  ] as const) {
    const file = join(keysDir, `${issuer}-local.key`);
    if (existsSync(file)) console.log(`  ${issuer}: keys/${issuer}-local.key exists`);
    else
      console.log(
        `  ${(await cli(["keygen", "--issuer", issuer, "--target", apiUrl, "--alg", alg, "--out", keysDir], env)).split("\n")[0]}`,
      );
  }
  const ordersKey = readFileSync(join(keysDir, "orders-service-local.key"), "utf8");
  const inventoryKey = readFileSync(join(keysDir, "inventory-service-local.key"), "utf8");
  const inventoryJwk = JSON.parse(readFileSync(join(keysDir, "inventory-service-local.jwk.json"), "utf8")) as Record<string, unknown>;

  step(3, "Register the writers (idempotent)");
  const jwksServer = await serveJwks(await toJwks([inventoryJwk]).then((set) => () => set));
  try {
    const ordersReg = await cli(
      [
        "register",
        "--issuer",
        "orders-service",
        "--public-key",
        join(keysDir, "orders-service-local.pub"),
        "--allowed-role",
        "orders_writer",
        "--allowed-role",
        "stock_reader",
        "--description",
        "sample orders writer",
      ],
      env,
    );
    console.log(ordersReg.replace(/^/gm, "  "));
    // A function inside Docker cannot reach a JWKS on the host's loopback: there, register the public JWK instead.
    const inventorySource = useDocker
      ? ["--public-key", join(keysDir, "inventory-service-local.jwk.json")]
      : ["--jwks-uri", jwksServer.url, "--alg", "EdDSA"];
    const inventoryReg = await cli(
      [
        "register",
        "--issuer",
        "inventory-service",
        ...inventorySource,
        "--allowed-role",
        "inventory_writer",
        "--allowed-role",
        "orders_reader",
        "--db-role",
        "inventory_service",
        "--description",
        "sample inventory writer",
      ],
      env,
    );
    console.log(inventoryReg.replace(/^/gm, "  "));

    step(4, "Run the writers");
    const logFrom = logSize();
    const base = { apiUrl, anonKey, audience };
    const orders = await runOrdersWriter({ ...base, issuer: "orders-service", privateKeyPem: ordersKey });
    const inventory = await runInventoryWriter({ ...base, issuer: "inventory-service", privateKeyPem: inventoryKey });
    const forger = await createSigner({ privateKey: ordersKey, issuer: "orders-service", audience });
    const forged = await fetch(`${apiUrl}/functions/v1/rest/jwt_public_keys`, {
      headers: { apikey: anonKey, authorization: `Bearer ${await forger.sign({ roles: ["service_role"] })}` },
    });
    const forgedBody = (await forged.json()) as { code?: string };
    // A writer signing a Supabase Auth user's id (a seeded note's owner) and a forged custom claim: it still
    // runs as its writer role with its own derived subject, and the Auth users' table stays closed to it.
    const authUserId = "8d0fd2b3-9ca1-4a58-8b0c-000000000001";
    const asUser = await forger.sign({ subject: authUserId, roles: ["orders_writer"], claims: { user_role: "admin" } });
    const impersonation = await fetch(`${apiUrl}/functions/v1/rest/user_notes?select=*`, {
      headers: { apikey: anonKey, authorization: `Bearer ${asUser}` },
    });
    const impersonationBody = (await impersonation.json()) as { code?: string };
    const whoamiRes = await fetch(`${apiUrl}/functions/v1/rest/rpc/federation_whoami`, {
      method: "POST",
      headers: { apikey: anonKey, authorization: `Bearer ${asUser}`, "content-type": "application/json" },
      body: "{}",
    });
    const whoami = (await whoamiRes.json()) as { db_role?: string; writer_uid?: string; writer_claims?: unknown };

    const show = (title: string, outcomes: typeof orders) => {
      console.log(`  ${title}`);
      for (const o of outcomes) {
        const asExpected = o.ok === (o.expected === "allowed");
        console.log(
          `    ${asExpected ? "✓" : "✗"} ${o.action.padEnd(21)} ${o.status} ${o.ok ? "allowed" : `denied ${o.code}`} — ${o.message}`,
        );
      }
    };
    show("orders-service    (supabase-js, ES256 key registered by file)", orders);
    show(
      `inventory-service (postgrest-js, EdDSA key ${useDocker ? "registered by its public JWK" : `served at ${jwksServer.url}`})`,
      inventory,
    );
    if (useDocker)
      console.log("    (Docker: the function cannot reach a JWKS on this machine's 127.0.0.1, so pnpm dev registers the JWK itself)");
    console.log(`  forged: orders-service asks for role service_role → ${forged.status} ${forgedBody.code}`);
    console.log(
      `  impersonation: orders-service signs an Auth user's id as sub → user_notes ${impersonation.status} ${impersonationBody.code}` +
        `\n    (the database sees role ${whoami.db_role} and sub ${String(whoami.writer_uid).slice(0, 8)}…, a UUID the gateway derives from` +
        `\n    the writer's name and its sub, never the user's id; its forged user_role claim arrives only inside` +
        `\n    writer_claims, which no policy reads)`,
    );

    // The keyless writer: a CI job admitted by a trust policy.
    const keyless = await showKeylessWriter({ root, apiUrl, anonKey, audience, docker: useDocker, cli: (args) => cli(args, env) });

    const access = await accessLines(logFrom);
    console.log(
      `  access log: ${access.length} requests of this run, one JSON line each in ${functionLog()}` +
        `\n    (kept across restarts${useDocker ? "" : ", moved to stack.log.1 past 10 MB"}). Columns: status, writer, method, table,` +
        `\n    upstream = PostgREST's status ("-": refused before it reached PostgREST), cache = the writer's key` +
        `\n    came from the gateway's key cache (hit) or the registry (miss), time, and the reason of a refusal:`,
    );
    for (const e of access)
      console.log(
        `    ${e.status} ${String(e.issuer ?? "-").padEnd(17)} ${String(e.method).padEnd(5)} ${String(e.target ?? "-").padEnd(22)} upstream ${e.upstream_status ?? "-"}  cache ${e.cache ?? "-"}  ${e.ms} ms${e.reason ? `  ${e.reason}` : ""}`,
      );

    // One write followed end to end: the id the gateway answered in X-Request-Id, and the audit row carrying it.
    const traced = await fetch(`${apiUrl}/functions/v1/rest/orders`, {
      method: "POST",
      headers: {
        apikey: anonKey,
        authorization: `Bearer ${await forger.sign({ roles: ["orders_writer"] })}`,
        "content-type": "application/json",
        prefer: "return=minimal",
      },
      body: JSON.stringify({ sku: "WIDGET-BLUE", quantity: 1 }),
    });
    const requestId = traced.headers.get("x-request-id");
    const auditRow = requestId
      ? (JSON.parse(await cli(["audit", "--request-id", requestId, "--json"], env)) as { rows: Array<Record<string, unknown>> }).rows[0]
      : undefined;
    const audited = traced.status === 201 && auditRow?.request_id === requestId;
    console.log(`  write audit: orders-service POST orders → ${traced.status}, X-Request-Id ${requestId ?? "(none)"}`);
    console.log(
      auditRow
        ? `    ${audited ? "✓" : "✗"} fedjwt audit --request-id ${requestId}: ${auditRow.op} ${auditRow.table_name} ${JSON.stringify(auditRow.pk)} by ${auditRow.writer} (kid ${auditRow.writer_kid}, sub ${auditRow.writer_sub}) at ${auditRow.at}`
        : "    ✗ no audit row carries it",
    );

    step(5, "Summary");
    const all = [...orders, ...inventory];
    const impersonationRefused =
      impersonation.status === 403 &&
      impersonationBody.code === "42501" &&
      whoami.db_role === "federated_writer" &&
      whoami.writer_uid !== authUserId;
    const good =
      all.every((o) => o.ok === (o.expected === "allowed")) &&
      forgedBody.code === "role_not_allowed" &&
      impersonationRefused &&
      keyless &&
      audited;
    const writes = all.filter((o) => o.ok && /insert|update|delete/.test(o.action)).length;
    const denied = all.filter((o) => !o.ok);
    console.log(
      `  ${writes} writes made, ${denied.length} denied by policy (${denied.map((d) => `${d.action}: ${d.code}`).join("; ")}), forged role refused: ${forgedBody.code}`,
    );
    console.log(
      `  ${good ? "Everything behaved as the policies say." : "SOMETHING DID NOT BEHAVE AS EXPECTED — see the ✗ lines above."} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
    const publishableKey = status.PUBLISHABLE_KEY ?? "";
    const secretKey = status.SECRET_KEY ?? "";
    console.log(`
  API              ${apiUrl}
  writers' gateway ${apiUrl}/functions/v1/rest/<table>   (supabase-js base URL: ${apiUrl}/functions/v1/rest)
  Data API         ${apiUrl}/rest/v1/<table>            (needs an apikey)
  audience         ${audience}   (what writers put in aud: exactly this, no trailing slash)
  database         ${status.DB_URL ?? "postgresql://postgres:postgres@127.0.0.1:54322/postgres"}
  publishable key  ${publishableKey}   (the README's "<publishable key>": writers' apikey)
  secret key       ${secretKey}   (fedjwt's --service-role-key; local only, never give it to a writer)
  legacy keys      the anon and service_role JWTs still work as the two keys above: ${useDocker ? "pnpm exec supabase status" : "pnpm stack status"}
  writer keys      keys/orders-service-local.key, keys/inventory-service-local.key

  Try: pnpm fedjwt list --local
       pnpm fedjwt mint --issuer orders-service --key keys/orders-service-local.key --audience ${audience} --role orders_writer
       pnpm fedjwt policy --local --issuer orders-service --rate-limit 20
  Status of the stack and each function: ${useDocker ? "pnpm exec supabase status" : "pnpm stack status"}
  Stop: ${useDocker ? "pnpm exec supabase stop (and kill $(cat .local/functions.pid))" : "pnpm stack stop"}`);
    process.exitCode = good ? 0 : 1;
  } finally {
    await jwksServer.close();
  }
}

main().catch((e: unknown) => {
  console.error(`\npnpm dev failed: ${e instanceof Error ? e.message : String(e)}`);
  if (useDocker) console.error(NO_DOCKER_HINT);
  process.exitCode = 1;
});
