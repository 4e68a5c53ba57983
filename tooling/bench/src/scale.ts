// Two runs of the rest function on its own under Deno, in front of an instant fake project (fake-supabase.ts):
// - scale: 10,000 registered writers, 1,000 of them active at once with reused tokens, for several key-cache
//   TTLs; then every registered writer once with a new token. Registry reads per writer per TTL, the
//   process's memory growth, its CPU, and the hit path in-process with 1,000 writers in the caches;
// - first-seen tokens: the function of this tree and of a baseline commit (checked out with `git worktree`
//   at bench time), side by side in the same run, each sent the same new tokens (every one a miss): the
//   function's CPU per first-seen token.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type autocannon from "autocannon";
import { createSigner } from "@fedjwt/signer";
import { repoRoot, type DenoServer } from "@fedjwt/local-stack";
import { cannon, mergeRuns, type RawRun } from "./cannon.ts";
import { inDeno } from "./experiments.ts";
import { type BenchWriter, benchWriters, BENCH_POLICY, fakeProjectEnv, startFakeSupabase } from "./fake-supabase.ts";
import { measureScaleHit, type ScaleHit } from "./handler-cost.ts";
import { bareScript, serveBench, serveRest } from "./processes.ts";
import { memoryMB } from "./procfs.ts";

const ROLES = BENCH_POLICY.allowed_roles;
/** One read by id: the fake project answers every data request at once. */
const MIX: autocannon.Request[] = [{ method: "GET", path: "/rest/orders?select=id,quantity&id=eq.1" }];

/** Sizes of the scale run (the case by default; smaller through the environment for a quick try). */
export const SCALE = {
  registered: Number(process.env.FEDJWT_BENCH_SCALE_REGISTERED ?? 10_000),
  active: Number(process.env.FEDJWT_BENCH_SCALE_ACTIVE ?? 1_000),
  ttlMs: 5_000,
  /** The steady phase lasts at least this many key-cache TTLs. */
  ttls: 4,
  /** Requests per second in the steady phase: each active writer about once every two seconds. */
  rate: Number(process.env.FEDJWT_BENCH_SCALE_RATE ?? 500),
};

/** What the scale run measured. */
export interface ScaleResult {
  registered: number;
  active: number;
  ttlMs: number;
  /** The steady phase's pace, requests per second. */
  rate: number;
  steady: {
    seconds: number;
    requests: number;
    rps: number;
    errors: number;
    cpuMsPerRequest: number;
    /** Registry reads of the active writers during the phase, per writer and TTL window it spans (mean). */
    readsPerWriterPerTtl: number;
    /** Most reads one writer caused, and the TTL windows the phase spans (⌈seconds / TTL⌉): the bound. */
    maxReadsOneWriter: number;
    ttlWindows: number;
    /** Reads of the issuer-name list (one list for all writers). */
    listReads: number;
  };
  sweep: { requests: number; errors: number; seconds: number; cpuMsPerRequest: number };
  /** Resident memory of the Deno process, MB: after the warm-up, after the steady phase, after the sweep, and its peak. */
  memoryMB: {
    start: number;
    afterActive: number;
    afterSweep: number;
    peak: number;
    /** What a bare deno serve + one fetch grew by under the same paced load at the same time (the runtime's own). */
    controlGrowth: number;
  };
  hit: { node: ScaleHit; deno: ScaleHit };
}

/** Runs `amount` requests in slices of `slice` until at least `minSeconds` have passed; adds the slices up. */
async function sliced(o: Omit<Parameters<typeof cannon>[0], "amount">, slice: number, minSeconds: number) {
  const raws: RawRun[] = [];
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < minSeconds) raws.push((await cannon({ ...o, amount: slice })).raw);
  return { run: mergeRuns(raws), seconds: (performance.now() - t0) / 1000 };
}

/** The scale case: see the file's head. */
export async function scale(log: (s: string) => void, functionEnv: Record<string, string> = {}): Promise<ScaleResult> {
  const { registered, active, ttlMs, ttls, rate } = SCALE;
  log(`  generating ${registered} writers' ES256 keys…`);
  const writers = await benchWriters("scale", registered);
  const project = await startFakeSupabase(writers);
  const fn = await serveRest({ ...fakeProjectEnv(project.url), FEDJWT_KEY_CACHE_TTL_MS: String(ttlMs), ...functionEnv });
  const pid = fn.process.pid!;
  const hop = bareScript("hop");
  const control = await serveBench(hop.path, { UPSTREAM: `${project.url}/rest/v1` });
  try {
    const mint = async (w: BenchWriter) =>
      (await createSigner({ privateKey: w.keys.privateKeyPem, issuer: w.issuer, audience: project.url })).sign({
        roles: ROLES,
        expiresIn: 300,
      });
    // Active writers spread over the registry; warm-up writers are outside them.
    const step = Math.floor(registered / active);
    const activeWriters = Array.from({ length: active }, (_, i) => writers[i * step]!);
    const activeTokens = await Promise.all(activeWriters.map(mint));
    const warmTokens = await Promise.all(
      writers
        .filter((_, i) => i % step === 1)
        .slice(0, 10)
        .map(mint),
    );
    const o = (bearer: () => string) => ({
      url: fn.url,
      mix: MIX,
      headers: { apikey: "sb_publishable_bench" },
      bearer,
      connections: 50,
      groups: { fn: () => [pid] },
    });
    // The control: a bare deno serve + one fetch (no code of ours) under the same paced load at the same
    // time, so the runtime's own memory growth is told apart from the function's.
    const hopPid = control.process.pid!;
    const controlRun = (amount: number) =>
      cannon({ url: control.url, mix: MIX, headers: {}, bearer: () => "none", connections: 50, amount, overallRate: rate, groups: {} });
    let w = 0;
    await Promise.all([cannon({ ...o(() => warmTokens[w++ % warmTokens.length]!), amount: 500 }), controlRun(500)]);
    const start = memoryMB(pid).rss;
    const controlStart = memoryMB(hopPid).rss;
    project.reset();
    let a = 0;
    const [steady] = await Promise.all([
      sliced({ ...o(() => activeTokens[a++ % active]!), overallRate: rate }, rate * 5, (ttls * ttlMs) / 1000),
      controlRun(rate * ttls * (ttlMs / 1000)),
    ]);
    const afterActive = memoryMB(pid).rss;
    const controlGrowth = memoryMB(hopPid).rss - controlStart;
    const reads = activeWriters.map((x) => project.readsByIssuer.get(x.issuer) ?? 0);
    const totalReads = reads.reduce((s, n) => s + n, 0);
    const ttlWindows = Math.ceil((steady.seconds * 1000) / ttlMs);
    const s = {
      seconds: steady.seconds,
      requests: steady.run.requests,
      rps: steady.run.requests / steady.seconds,
      errors: steady.run.errors,
      cpuMsPerRequest: steady.run.cpuMsPerRequest.fn!,
      readsPerWriterPerTtl: totalReads / active / ttlWindows,
      maxReadsOneWriter: Math.max(...reads),
      ttlWindows,
      listReads: project.listReads(),
    };
    log(
      `  steady: ${active} of ${registered} writers, reused tokens, ${rate} req/s paced, ${s.requests} requests in ${s.seconds.toFixed(1)} s (${s.rps.toFixed(0)} req/s, errors ${s.errors}); registry reads ${s.readsPerWriterPerTtl.toFixed(2)} per writer per TTL (at most ${s.maxReadsOneWriter} by one writer in ${ttlWindows} TTL windows; ${s.listReads} issuer-list reads); function CPU ${s.cpuMsPerRequest.toFixed(3)} ms/request`,
    );
    // Every registered writer once, each with a new token: the caches fill to their bounds.
    const sweepTokens = await Promise.all(writers.map(mint));
    let k = 0;
    const t0 = performance.now();
    const sweep = await cannon({ ...o(() => sweepTokens[k++ % sweepTokens.length]!), amount: sweepTokens.length, overallRate: rate });
    const sw = {
      requests: sweep.requests,
      errors: sweep.errors,
      seconds: (performance.now() - t0) / 1000,
      cpuMsPerRequest: sweep.cpuMsPerRequest.fn!,
    };
    const mem = memoryMB(pid);
    const memory = { start, afterActive, afterSweep: mem.rss, peak: mem.peak, controlGrowth };
    log(
      `  sweep: all ${registered} writers once with a new token (${sw.requests} requests, errors ${sw.errors}, ${sw.cpuMsPerRequest.toFixed(3)} ms CPU each); function RSS ${start.toFixed(1)} MB after warm-up, ${afterActive.toFixed(1)} after the steady phase (+${(afterActive - start).toFixed(1)}; a bare serve + fetch under the same load: +${controlGrowth.toFixed(1)}), ${mem.rss.toFixed(1)} after the sweep (+${(mem.rss - start).toFixed(1)}), peak ${mem.peak.toFixed(1)}`,
    );
    const node = await measureScaleHit(active, registered);
    const deno = await inDeno<ScaleHit>(`measureScaleHit(${active}, ${registered})`);
    log(`  hit path with ${active} writers in the caches: node ${node.hitMs.toFixed(4)} ms, deno ${deno.hitMs.toFixed(4)} ms per request`);
    return { registered, active, ttlMs, rate, steady: s, sweep: sw, memoryMB: memory, hit: { node, deno } };
  } finally {
    await fn.stop();
    await control.stop();
    hop.remove();
    await project.close();
  }
}

/** The commit the first-seen comparison measures against (the function before its miss path was trimmed). */
export const FIRST_SEEN_BASELINE = process.env.FEDJWT_BENCH_BASELINE ?? "e72c865";

/** What the first-seen comparison measured: CPU per request of each Deno process, same tokens, same run (sides in this order: baseline, this tree, bare hop, verifying hop). */
export interface FirstSeenResult {
  baselineCommit: string;
  writers: number;
  tokensPerSide: number;
  sides: Array<{ what: string; cpuMsPerRequest: number; rps: number; errors: number }>;
  /** This tree's CPU per first-seen token over the baseline's. */
  ratio: number;
  /** The verifying floor (bare serve + the ES256 check + fetch) over the baseline's. */
  floorRatio: number;
  /** When this comparison ran (it can be re-run alone: bench --only=first-seen). */
  measuredAt: string;
}

/**
 * The function of this tree against the baseline commit's, interleaved in slices (baseline, current, bare hop,
 * baseline, …) at concurrency 50, every request a token neither process has seen (the same tokens for both);
 * `writers` writers take turns so their keys are imported once, as on a busy instance.
 */
export async function firstSeen(log: (s: string) => void, writersCount = 200, slice = 1000, slices = 4): Promise<FirstSeenResult> {
  const root = repoRoot();
  const dir = mkdtempSync(join(tmpdir(), "fedjwt-bench-baseline-"));
  const tree = join(dir, "tree");
  execFileSync("git", ["-C", root, "worktree", "add", "--detach", "--quiet", tree, FIRST_SEEN_BASELINE], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const writers = await benchWriters("seen", writersCount);
  const project = await startFakeSupabase(writers);
  const servers: DenoServer[] = [];
  const hop = bareScript("hop");
  const verifyHop = bareScript("verify-hop");
  try {
    const env = fakeProjectEnv(project.url);
    const spki = Object.fromEntries(writers.map((w) => [w.issuer, w.keys.publicKeyPem.replace(/-----[^-]+-----|\s/g, "")]));
    const fnDir = (base: string) => join(base, "supabase/functions/rest");
    const sides = {
      [`rest function at ${FIRST_SEEN_BASELINE} (baseline)`]: await serveBench(
        join(fnDir(tree), "index.ts"),
        env,
        join(fnDir(tree), "deno.json"),
      ),
      "rest function, this tree": await serveRest(env),
      "bare deno serve + one fetch upstream (the floor)": await serveBench(hop.path, { ...env, UPSTREAM: `${project.url}/rest/v1` }),
      "bare deno serve + the ES256 check + one fetch (a verifying gateway's floor)": await serveBench(verifyHop.path, {
        ...env,
        UPSTREAM: `${project.url}/rest/v1`,
        KEYS: JSON.stringify(spki),
      }),
    };
    servers.push(...Object.values(sides));
    const signers = await Promise.all(
      writers.map((w) => createSigner({ privateKey: w.keys.privateKeyPem, issuer: w.issuer, audience: project.url })),
    );
    const total = slice * (slices + 1) + 500; // a margin: autocannon may set up a few requests it does not send
    const tokens = await Promise.all(
      Array.from({ length: total }, (_, i) => signers[i % signers.length]!.sign({ roles: ROLES, expiresIn: 300 })),
    );
    const names = Object.keys(sides);
    const next = Object.fromEntries(names.map((n) => [n, 0])) as Record<string, number>;
    const raws = Object.fromEntries(names.map((n) => [n, [] as RawRun[]])) as Record<string, RawRun[]>;
    const run = (name: string) => {
      const server = sides[name]!;
      return cannon({
        url: server.url,
        mix: MIX,
        headers: { apikey: "sb_publishable_bench" },
        bearer: () => tokens[next[name]!++ % total]!,
        connections: 50,
        amount: slice,
        groups: { fn: () => [server.process.pid!] },
      });
    };
    for (const n of names) await run(n); // warm-up: the writers' keys imported, the code compiled
    for (let i = 0; i < slices; i++) for (const n of names) raws[n]!.push((await run(n)).raw);
    const out = names.map((what) => {
      const r = mergeRuns(raws[what]!);
      log(`  ${what.padEnd(48)} ${r.cpuMsPerRequest.fn!.toFixed(3)} ms CPU per request (${r.rps.toFixed(0)} req/s, errors ${r.errors})`);
      return { what, cpuMsPerRequest: r.cpuMsPerRequest.fn!, rps: r.rps, errors: r.errors };
    });
    const ratio = out[1]!.cpuMsPerRequest / out[0]!.cpuMsPerRequest;
    const floorRatio = out[3]!.cpuMsPerRequest / out[0]!.cpuMsPerRequest;
    log(`  this tree / baseline: ${ratio.toFixed(2)}×; a verifying gateway's floor / baseline: ${floorRatio.toFixed(2)}×`);
    return {
      baselineCommit: FIRST_SEEN_BASELINE,
      measuredAt: new Date().toISOString(),
      writers: writersCount,
      tokensPerSide: slice * slices,
      sides: out,
      ratio,
      floorRatio,
    };
  } finally {
    for (const s of servers) await s.stop();
    hop.remove();
    verifyHop.remove();
    await project.close();
    execFileSync("git", ["-C", root, "worktree", "remove", "--force", tree], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
}
