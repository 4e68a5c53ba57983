// pnpm load [--requests 10000] [--concurrency 50]: mixed requests through the whole Docker-free chain
// (writer → gateway → rest under Deno → PostgREST stand-in → Postgres) on free loopback ports, then checks
// that every acknowledged insert is in the database. Bounded in count; per-request timeout 20 s.
import { parseArgs } from "node:util";
import { createSigner } from "@fedjwt/signer";
import { startStack } from "@fedjwt/local-stack";
import { missingIds, percentile, runLoad } from "./load-engine.ts";
import { registerWriter } from "./lib.ts";

const { values } = parseArgs({
  options: { requests: { type: "string", default: "10000" }, concurrency: { type: "string", default: "50" } },
});
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
if (!(requests > 0 && requests <= 1_000_000 && concurrency > 0 && concurrency <= 500)) {
  console.error("usage: pnpm load [--requests 1..1000000] [--concurrency 1..500]");
  process.exit(2);
}
const stack = await startStack({ apiPort: 0, dbPort: 0, useEnvFile: false });
try {
  const api = stack.info.API_URL;
  const keys = await registerWriter(api, stack.info.SERVICE_ROLE_KEY, "load-service", ["orders_writer"]);
  const signer = await createSigner({ privateKey: keys.privateKeyPem, issuer: "load-service", audience: api });
  let last = 0;
  const r = await runLoad({
    apiUrl: api,
    anonKey: stack.info.ANON_KEY,
    signer,
    roles: ["orders_writer"],
    requests,
    concurrency,
    onProgress: (done) => {
      if (done - last >= 1000 || done === requests) {
        last = done;
        process.stdout.write(`\r  ${done}/${requests}`);
      }
    },
  });
  const missing = await missingIds(api, stack.info.SERVICE_ROLE_KEY, r.acknowledged);
  const errors = r.total - r.ok;
  console.log(
    `\nload: ${r.total} requests at concurrency ${concurrency} in ${r.seconds.toFixed(1)} s = ${Math.round(r.total / r.seconds)} req/s`,
  );
  console.log(`  latency p50 ${percentile(r.latenciesMs, 50).toFixed(1)} ms, p99 ${percentile(r.latenciesMs, 99).toFixed(1)} ms`);
  console.log(
    `  statuses ${JSON.stringify(r.statuses)}; errors ${errors} ${JSON.stringify(r.codes)}; hangs ${r.hangs}; network errors ${r.networkErrors}`,
  );
  console.log(`  acknowledged inserts ${r.acknowledged.length}, missing from the database ${missing.length}`);
  process.exitCode = errors === 0 && r.hangs === 0 && r.networkErrors === 0 && missing.length === 0 ? 0 : 1;
} finally {
  await stack.stop();
}
