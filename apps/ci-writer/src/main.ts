#!/usr/bin/env node
// The step a GitHub Actions job runs (see README.md): writes through the gateway with the job's own OIDC token.
import { formatOutcomes, runCiWriter } from "./writer.ts";

const apiUrl = process.env.FEDJWT_API_URL ?? process.env.SUPABASE_URL;
if (!apiUrl) {
  console.error("ci-writer: set FEDJWT_API_URL (or SUPABASE_URL) to the project URL");
  process.exit(2);
}
if (!process.env.ACTIONS_ID_TOKEN_REQUEST_URL) {
  console.error("ci-writer: no ACTIONS_ID_TOKEN_REQUEST_URL: run it in a job with `permissions: id-token: write`");
  process.exit(2);
}
// getIDToken prints workflow commands (::add-mask::<token>, ::debug::) for the runner to consume. Outside
// GitHub Actions nothing consumes them, so they are dropped rather than printed with a token in them.
if (process.env.GITHUB_ACTIONS !== "true") {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
    String(chunk).startsWith("::")
      ? true
      : (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest)) as typeof process.stdout.write;
}
const outcomes = await runCiWriter({
  apiUrl,
  anonKey: process.env.FEDJWT_ANON_KEY ?? process.env.SUPABASE_ANON_KEY ?? "",
  audience: process.env.FEDJWT_AUDIENCE ?? apiUrl,
});
console.log(formatOutcomes(`ci-writer (${process.env.GITHUB_REPOSITORY ?? "this job"}, no key of ours)`, outcomes));
process.exitCode = outcomes.every((o) => o.ok) ? 0 : 1;
