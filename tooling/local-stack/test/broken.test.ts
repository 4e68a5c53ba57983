// A function that fails to load: its load error as the stack reports it, the answer it gives, and the size-rotated log.
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bootErrorBody, loadError, serveBrokenFunctions } from "../src/broken.ts";
import { formatFunctions } from "../src/function-status.ts";
import { rotateLog } from "../src/log-file.ts";

describe("loadError", () => {
  it("keeps Deno's error from its first `error:` line on", () => {
    const e = new Error(
      'deno exited (1) before serving: Download https://x\nerror: Module not found "file:///p/not-there.ts".\n    at file:///p/index.ts:1:8\n',
    );
    expect(loadError(e)).toBe('error: Module not found "file:///p/not-there.ts".\n    at file:///p/index.ts:1:8');
  });

  it("keeps the whole message when Deno printed no error line, capped at 1000 characters", () => {
    expect(loadError(new Error("deno did not listen on 1234 within 60000 ms: "))).toBe("deno did not listen on 1234 within 60000 ms:");
    expect(loadError(new Error("x".repeat(5000))).length).toBe(1001);
  });
});

describe("serveBrokenFunctions", () => {
  it("answers every request for a broken function with 500 BOOT_ERROR and its load error", async () => {
    const server = await serveBrokenFunctions([{ name: "hello", error: "error: JSR package manifest failed to load" }]);
    try {
      const res = await fetch(`${server.url}/hello/deep/path?x=1`, { method: "POST", body: "{}" });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual(bootErrorBody({ name: "hello", error: "error: JSR package manifest failed to load" }));
    } finally {
      await server.close();
    }
  });
});

describe("formatFunctions", () => {
  it("lists each function as shell comments: serving, or BROKEN with the first line of its error", () => {
    expect(
      formatFunctions([
        { name: "rest", status: "serving" },
        { name: "hello", status: "broken", error: "error: Module not found\n    at x" },
      ]),
    ).toBe("\n# function rest   serving\n# function hello  BROKEN (answers 500): error: Module not found");
    expect(formatFunctions(undefined)).toBe("");
  });
});

describe("rotateLog", () => {
  it("moves a log past its size to .1 and empties it; a small one is left alone", () => {
    const dir = mkdtempSync(join(tmpdir(), "fedjwt-log-"));
    const file = join(dir, "stack.log");
    writeFileSync(file, "a".repeat(100));
    expect(rotateLog(file, 200)).toBe(false);
    expect(existsSync(`${file}.1`)).toBe(false);
    writeFileSync(file, "b".repeat(300));
    expect(rotateLog(file, 200)).toBe(true);
    expect(readFileSync(`${file}.1`, "utf8")).toBe("b".repeat(300));
    expect(readFileSync(file, "utf8")).toBe("");
    expect(rotateLog(join(dir, "none.log"), 200)).toBe(false);
  });
});
