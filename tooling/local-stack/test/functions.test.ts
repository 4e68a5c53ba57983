// How a function is started: `deno serve` for a default export, `deno run` with DENO_SERVE_ADDRESS for a module
// that calls Deno.serve itself (what `supabase functions new` writes), both on a loopback port of ours.
import { describe, expect, it } from "vitest";
import { denoServeArgs, serveStyle } from "../src/functions.ts";

describe("serveStyle", () => {
  it.each([
    ["export default { fetch: handler };", "default-export"],
    ["const h = {};\nexport default h satisfies Deno.ServeDefaultExport;", "default-export"],
    ['import "jsr:@supabase/functions-js/edge-runtime.d.ts";\nDeno.serve(async (req) => new Response("hi"));', "deno-serve"],
    ["// export default is only mentioned here\nDeno.serve(() => new Response());", "deno-serve"],
  ])("%j → %s", (source, style) => {
    expect(serveStyle(source)).toBe(style);
  });
});

describe("denoServeArgs", () => {
  it("serves a default export on the given loopback port", () => {
    expect(denoServeArgs({ entrypoint: "/f/index.ts", config: "/f/deno.json" }, 4000)).toEqual([
      "serve",
      "--quiet",
      "--no-prompt",
      "--allow-net",
      "--allow-env",
      "--host",
      "127.0.0.1",
      "--port",
      "4000",
      "--config",
      "/f/deno.json",
      "/f/index.ts",
    ]);
  });

  it("runs a Deno.serve module (its port comes from DENO_SERVE_ADDRESS)", () => {
    expect(denoServeArgs({ entrypoint: "/f/index.ts", style: "deno-serve" }, 4000)).toEqual([
      "run",
      "--quiet",
      "--no-prompt",
      "--allow-net",
      "--allow-env",
      "/f/index.ts",
    ]);
  });
});
