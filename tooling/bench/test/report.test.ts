import { describe, expect, it } from "vitest";
import { mergeRuns, type RunResult } from "../src/cannon.ts";
import { renderChart, renderMarkdown, renderScaleChart, type BenchResults } from "../src/report.ts";

const run = (rps: number, p50: number, fnCpu: number): RunResult => ({
  requests: 1000,
  seconds: 1000 / rps,
  rps,
  p50,
  p99: p50 * 3,
  errors: 0,
  cpuMsPerRequest: { "bench client": 0.1, "gateway + stand-in (node)": fnCpu ? 0.6 : 0.5, "rest function (deno)": fnCpu, postgres: 0.7 },
});

function results(reusedRps: number, reusedP50: number): BenchResults {
  return {
    machine: {
      cpu: "test cpu",
      cores: 2,
      memoryGiB: 4,
      os: "linux",
      node: "v24",
      deno: "deno 2",
      date: "2026-01-01T00:00:00.000Z",
      loadAverageAtStart: [0.5, 0.4, 0.3],
    },
    conditions: "Synthetic figures.",
    loadAverageAtEnd: [1.5, 0.6, 0.4],
    overhead: {
      c1: { direct: run(500, 1.5, 0), reused: run(400, reusedP50, 0.3), "per-request": run(300, 3, 0.7) },
      c50: { direct: run(1000, 40, 0), reused: run(reusedRps, 50, 0.3), "per-request": run(600, 70, 0.7) },
    },
    functionCpu: [
      { what: "bare deno serve (answers itself)", cpuMsPerRequest: 0.02, rps: 3000, errors: 0 },
      { what: "bare deno serve + one fetch upstream", cpuMsPerRequest: 0.25, rps: 600, errors: 0 },
      { what: "rest function, reused token (cache hit)", cpuMsPerRequest: 0.3, rps: 500, errors: 0 },
      { what: "rest function, per-request token (miss)", cpuMsPerRequest: 0.7, rps: 450, errors: 0 },
    ],
    keepAlive: {
      requests: 3000,
      upstreamConnections: 0,
      warmupConnections: 50,
      registryReads: 1,
      cpuMsPerRequest: 0.15,
      rps: 900,
      errors: 0,
    },
    verifyPerSecond: { ES256: 5000 },
    handler: {
      node: { hitMs: 0.02, missMs: 0.2, uncachedMs: 0.18, verifyOnlyMs: 0.12, rounds: 7, fakeUpstreamMs: 0.004 },
      deno: { hitMs: 0.03, missMs: 0.4, uncachedMs: 0.4, verifyOnlyMs: 0.25, rounds: 7, fakeUpstreamMs: 0.001 },
    },
    revocation: { trials: 20, minMs: 50, medianMs: 2500, maxMs: 4900 },
    coldStart: { runs: 7, minMs: 40, medianMs: 45, maxMs: 60 },
    scale: {
      measuredAt: "2026-12-07T21:00:00.000Z",
      loadAverage: [3.5, 3, 2],
      registered: 10_000,
      active: 1_000,
      ttlMs: 5000,
      rate: 500,
      steady: {
        seconds: 21,
        requests: 30_000,
        rps: 1428,
        errors: 0,
        cpuMsPerRequest: 0.3,
        readsPerWriterPerTtl: 0.95,
        maxReadsOneWriter: 5,
        ttlWindows: 5,
        listReads: 5,
      },
      sweep: { requests: 10_000, errors: 0, seconds: 20, cpuMsPerRequest: 0.9 },
      memoryMB: { start: 60, afterActive: 190, afterSweep: 250, peak: 260, controlGrowth: 45, cappedYoungGenGrowth: 60 },
      heap: { active: 1000, registered: 10_000, startMB: 40, afterActiveMB: 47, afterSweepMB: 100, hits: 20_000 },
      hit: {
        node: { active: 1000, registered: 10_000, hitMs: 0.02, hitCpuMs: 0.015, rounds: 5 },
        deno: { active: 1000, registered: 10_000, hitMs: 0.07, hitCpuMs: 0.012, rounds: 5 },
      },
    },
    firstSeen: {
      baselineCommit: "e72c865",
      writers: 200,
      tokensPerSide: 4000,
      sides: [
        { what: "rest function at e72c865 (baseline)", cpuMsPerRequest: 0.8, rps: 400, errors: 0 },
        { what: "rest function, this tree", cpuMsPerRequest: 0.56, rps: 450, errors: 0 },
        { what: "bare deno serve + one fetch upstream (the floor)", cpuMsPerRequest: 0.25, rps: 600, errors: 0 },
        { what: "bare deno serve + the ES256 check + one fetch (a verifying gateway's floor)", cpuMsPerRequest: 0.5, rps: 500, errors: 0 },
      ],
      ratio: 0.7,
      floorRatio: 0.625,
      measuredAt: "2026-01-01T00:00:00.000Z",
    },
  };
}

describe("bench report", () => {
  it("judges each target from the figures it is given", () => {
    const met = renderMarkdown(results(850, 2.2), "chart.svg", "scale.svg");
    expect(met).toMatch(/throughput ≥ 80 % of direct \(concurrency 50\) \| 85\.0 % \| met/);
    expect(met).toMatch(/p50 overhead ≤ 1 ms \(concurrency 1\) \| 0\.70 ms \| met/);
    expect(met).toMatch(/on a miss \(Deno\) \| 0\.400 ms \| \*\*missed\*\*/);
    expect(met).toContain("the ES256 signature check alone\ntakes 0.250 ms of the 0.400 ms a miss costs");
    expect(met).toMatch(
      /per-request tokens: throughput no lower than before \(concurrency 50; before: 57 %–72 % of direct\) \| 60\.0 % \| met/,
    );
    expect(met).toMatch(/miss no slower than with the cache off \(Node\) \| 0\.200 vs 0\.180 ms \| \*\*missed\*\*/);
    expect(met).toMatch(/miss no slower than with the cache off \(Deno\) \| 0\.400 vs 0\.400 ms \| met/);
    const slower = results(850, 2.2);
    slower.overhead.c50!["per-request"].rps = 500;
    expect(renderMarkdown(slower, "c.svg", "s.svg")).toMatch(/no lower than before .*\| 50\.0 % \| \*\*missed\*\*/);
    const missed = renderMarkdown(results(700, 3), "chart.svg", "scale.svg");
    expect(missed).toMatch(/\| 70\.0 % \| \*\*missed\*\*/);
    expect(missed).toMatch(/\| 1\.50 ms \| \*\*missed\*\*/);
    expect(missed).toContain("![Throughput relative to direct, and function CPU per request](chart.svg)");
    expect(missed).toContain("Synthetic figures.");
    expect(missed).toContain("when the run started:\n0.5, 0.4, 0.3; when it ended: 1.5, 0.6, 0.4");
    expect(missed).not.toContain("This run shared the machine");
    const busy = results(700, 3);
    busy.loadAverageAtEnd = [9.5, 4, 2]; // the bench's own load: not a shared machine
    expect(renderMarkdown(busy, "c.svg", "s.svg")).not.toContain("This run shared the machine");
    busy.machine.loadAverageAtStart = [4.5, 4, 2];
    expect(renderMarkdown(busy, "c.svg", "s.svg")).toContain("a load average of 4.5 on 2 cores before it started");
  });

  it("judges the scale case on CPU time and on the heap the Edge Runtime counts, and shows wall clock and resident memory beside them", () => {
    const md = renderMarkdown(results(850, 2.2), "c.svg", "s.svg");
    expect(md).toMatch(
      /scale: hit path ≤ 0\.05 ms with 1000 of 10000 writers active \(Deno, in-process, CPU time\) \| 0\.012 ms CPU \(0\.070 ms wall clock at load 3\.5\) \| met/,
    );
    expect(md).toMatch(/as the Edge Runtime counts it \(heap kept: used \+ external\) \| \+7\.0 MB \(\+60\.0 MB after all 10,000\) \| met/);
    expect(md).toMatch(
      /resident memory of a plain `deno serve` \(VmRSS\) \| \+130\.0 MB; with V8's young generation capped: \+60\.0 MB; a bare serve \+ fetch: \+45\.0 MB \| \*\*missed\*\*/,
    );
    expect(md).toContain("about\n6.0 KB per writer seen");
    expect(md).toContain("Measured on 2026-12-07 21:00 UTC, the machine's load average then 3.5, 3, 2 on 2 cores.");
    expect(md).toContain("so the 1,000 writers here are all counted");
  });

  it("section 9, the write audit's cost, when measured: the median pair judged against 15 %", () => {
    expect(renderMarkdown(results(850, 2.2), "c.svg", "s.svg")).not.toContain("## 9.");
    const r = results(850, 2.2);
    const on = run(270, 30, 0.3);
    on.cpuMsPerRequest.postgres = 1.0;
    r.writeAudit = {
      connections: 10,
      on,
      off: run(300, 25, 0.3),
      slowdown: 0.08,
      pairSlowdowns: [0.05, 0.08, 0.12],
      auditRows: 1000,
      loadAverageAtEnd: [2, 1, 1],
    };
    const met = renderMarkdown(r, "c.svg", "s.svg");
    expect(met).toContain("## 9. The write audit's cost");
    expect(met).toMatch(
      /\*\*8\.0 % fewer inserts per second\*\* \(target: at most 15 % fewer: met; the median over the\n3 back-to-back pairs of slices, whose figures in % fewer were 5 %, 8 %, 12 %\)/,
    );
    expect(met).toContain("| on | **270** | 30.00 | 90.00 | 1.000 | 2.000 | 0 |");
    expect(met).toContain("**17.6 % more CPU per insert**");
    r.writeAudit.slowdown = 0.2;
    expect(renderMarkdown(r, "c.svg", "s.svg")).toContain("(target: at most 15 % fewer: **missed**;");
  });

  it("judges trust-policy matching and the workload-token hit from section 4b, and leaves both out of results without it", () => {
    const r = results(850, 2.2);
    expect(renderMarkdown(r, "c.svg", "s.svg")).not.toContain("4b. Trust policies");
    const cost = { policies: 1000, matchMs: 0.00012, noMatchMs: 0.00006, compileMs: 2.5, hitMs: 0.018, missMs: 0.5, rounds: 7 };
    r.policy = {
      node: cost,
      deno: { ...cost, matchMs: 0.03, hitMs: 0.06 },
      measuredAt: "2026-12-07T20:00:00.000Z",
      loadAverage: [0.4, 0.3, 0.2],
    };
    const md = renderMarkdown(r, "c.svg", "s.svg");
    expect(md).toMatch(/trust-policy matching ≤ 0\.02 ms with 1,000 policies on one issuer \(Node\) \| 0\.00012 ms \| met/);
    expect(md).toMatch(/trust-policy matching ≤ 0\.02 ms with 1,000 policies on one issuer \(Deno\) \| 0\.03000 ms \| \*\*missed\*\*/);
    expect(md).toMatch(/on a cache hit, workload token \(Node\) \| 0\.018 ms \| met/);
    expect(md).toMatch(/on a cache hit, workload token \(Deno\) \| 0\.060 ms \| \*\*missed\*\*/);
    expect(md).toContain("## 4b. Trust policies");
    expect(md).toContain("on 2026-12-07, load average 0.4, 0.3, 0.2 on 2 cores");
  });

  it("computes the ceiling from direct, the second gateway pass and the bare hop", () => {
    // direct total 1.3; + gateway pass 0.1 + bare serve + fetch 0.25 = 1.65 → 79 %
    expect(renderMarkdown(results(850, 2.2), "c.svg", "s.svg")).toContain(
      "would total 1.650 ms of CPU per request against 1.300 ms direct: a ceiling of **79 %**",
    );
  });

  it("judges the scale and first-seen targets", () => {
    const r = results(850, 2.2);
    const met = renderMarkdown(r, "chart.svg", "scale.svg");
    expect(met).toMatch(/registry reads ≤ 1 per writer per key-cache TTL \| 0\.95 \(at most 5 by one writer in 5 TTLs\) \| met/);
    expect(met).toMatch(/first-seen token ≤ 0\.75× of e72c865's \(same run\) \| 0\.70× \(0\.560 vs 0\.800 ms\) \| met/);
    expect(met).toContain("![Memory of the function and CPU per first-seen token](scale.svg)");
    r.scale.steady.maxReadsOneWriter = 6;
    r.scale.heap.afterActiveMB = 105;
    r.scale.hit.deno.hitCpuMs = 0.06;
    r.firstSeen.ratio = 0.8;
    const missed = renderMarkdown(r, "chart.svg", "scale.svg");
    expect(missed).toMatch(/at most 6 by one writer in 5 TTLs\) \| \*\*missed\*\*/);
    expect(missed).toMatch(/heap kept: used \+ external\) \| \+65\.0 MB \(\+60\.0 MB after all 10,000\) \| \*\*missed\*\*/);
    expect(missed).toMatch(/\| 0\.060 ms CPU \(0\.070 ms wall clock at load 3\.5\) \| \*\*missed\*\*/);
    expect(missed).toMatch(/\| 0\.80× \(0\.560 vs 0\.800 ms\) \| \*\*missed\*\*/);
  });

  it("draws the scale chart: memory by phase and CPU per first-seen token", async () => {
    const svg = await renderScaleChart(results(850, 2.2));
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("Function RSS, MB");
    expect(svg).toContain("1000 writers active");
    expect(svg).toContain("function at e72c865");
    expect(svg).toContain("0.560");
    expect(svg).toContain("serve + ES256 check + fetch");
  });

  it("says when section 8 was re-measured alone, and what the verifying floor leaves", () => {
    const r = results(850, 2.2);
    expect(renderMarkdown(r, "c.svg", "s.svg")).not.toContain("re-measured alone");
    expect(renderMarkdown(r, "c.svg", "s.svg")).toContain("The 0.75× target leaves 0.100 ms per request above that floor");
    r.functionCpu.push({ what: "rest function, cache hit, access lines for errors only", cpuMsPerRequest: 0.28, rps: 500, errors: 0 });
    expect(renderMarkdown(r, "c.svg", "s.svg")).toContain("the access line alone costs 0.020 ms (section 2, on hits)");
    r.firstSeen.sides[3]!.cpuMsPerRequest = 0.62; // the verifying floor itself above 0.75x the baseline
    expect(renderMarkdown(r, "c.svg", "s.svg")).toContain("In this run the 0.75× target is below even that floor, by 0.020 ms per request");
    r.firstSeen.sides[3]!.cpuMsPerRequest = 0.5;
    expect(renderMarkdown(r, "c.svg", "s.svg")).toContain(
      "can spend here is 0.63× (0.500 ms: 0.250 ms for the runtime's hop, 0.250 ms for the\nES256 check); of the 0.060 ms",
    );
    r.firstSeen.measuredAt = "2026-01-02T10:20:00.000Z";
    expect(renderMarkdown(r, "c.svg", "s.svg")).toContain("(re-measured alone on 2026-01-02 10:20 UTC)");
    r.firstSeen.alone = false; // a full run lasts minutes: its own later section is not "alone"
    expect(renderMarkdown(r, "c.svg", "s.svg")).not.toContain("re-measured alone");
  });

  it("draws an SVG chart with both panels", async () => {
    const svg = await renderChart(results(850, 2.2));
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("Throughput through the function, × direct");
    expect(svg).toContain("Deno process CPU per request");
    expect(svg).toContain("rest, cache hit");
    expect(svg).toContain("85%"); // the reused ratio at concurrency 50, labelled on its bar
  });
});

describe("mergeRuns", () => {
  it("adds up slices and takes percentiles over all their latencies", () => {
    const r = mergeRuns([
      { requests: 2, seconds: 1, errors: 0, latencies: [1, 3], cpuMs: { fn: 2 } },
      { requests: 2, seconds: 1, errors: 1, latencies: [2, 100], cpuMs: { fn: 6 } },
    ]);
    expect([r.requests, r.seconds, r.rps, r.errors]).toEqual([4, 2, 2, 1]);
    expect([r.p50, r.p99]).toEqual([3, 100]);
    expect(r.cpuMsPerRequest).toEqual({ fn: 2 });
    expect(JSON.stringify(r)).not.toContain("latencies");
  });
});
