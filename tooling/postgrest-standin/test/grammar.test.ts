// The filter, logic-tree and columns= grammar without a database: the values and the error positions PostgREST's
// Parsec parsers give (its QueryParams module documents these positions).
import { describe, expect, it } from "vitest";
import { PgrstError } from "../src/errors.ts";
import { parseColumns, parseCondition, parseLogic } from "../src/grammar.ts";

function failure(f: () => unknown): { message: string; details: unknown } {
  try {
    f();
  } catch (e) {
    if (e instanceof PgrstError && e.code === "PGRST100") return { message: e.message, details: e.details };
    throw e;
  }
  throw new Error("parsed");
}

describe("filters", () => {
  it.each([
    ["val", 1, 'unexpected "v" expecting "not" or operator (eq, gt, ...)'],
    ["eq().value", 4, 'unexpected ")" expecting operator (eq, gt, ...)'],
    ["fts().value", 5, 'unexpected ")" expecting operator (eq, gt, ...)'],
    ["is().value", 3, 'unexpected "(" expecting operator (eq, gt, ...)'],
    ["in().value", 3, 'unexpected "(" expecting operator (eq, gt, ...)'],
  ])("%s fails at column %i", (expr, column, details) => {
    expect(failure(() => parseCondition("id", expr))).toEqual({
      message: `"failed to parse filter (${expr})" (line 1, column ${column})`,
      details,
    });
  });

  it("in.(): an element is quoted only when the quote ends it; spaces are kept inside elements", () => {
    expect(parseCondition("id", 'in.( 1 ,"a,b" , c"d,"e\\"f")').list).toEqual(["1 ", '"a', 'b" ', ' c"d', 'e"f']);
    expect(parseCondition("id", 'not.in.("")')).toMatchObject({ negate: true, list: [""] });
  });

  it("is. takes its five values in any case; quantifiers and text-search languages", () => {
    expect(parseCondition("id", "is.NoT_NuLl").value).toBe("not_null");
    expect(parseCondition("id", "like(all).{a*,b*}")).toMatchObject({ op: "like", quant: "all", value: "{a*,b*}" });
    expect(parseCondition("id", "fts(simple).a b")).toMatchObject({ op: "fts", lang: "simple", value: "a b" });
    expect(failure(() => parseCondition("id", "in.(1,2)x")).message).toBe('"failed to parse filter (in.(1,2)x)" (line 1, column 9)');
  });
});

describe("logic trees", () => {
  it.each([
    ["or", "()", 4, 'unexpected ")" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)'],
    ["or", "(id.in.1,2,id.eq.3)", 10, 'unexpected "1" expecting "("'],
    ["and", "(ord(id.eq.1,id.eq.1),id.eq.2)", 7, 'unexpected "d" expecting "("'],
    ["or", "(id.eq.1,not.xor(id.eq.2,id.eq.3))", 16, 'unexpected "x" expecting logic operator (and, or)'],
  ] as const)("%s=%s fails at column %i", (op, value, column, details) => {
    expect(failure(() => parseLogic(op, false, value))).toEqual({
      message: `"failed to parse logic tree (${value})" (line 1, column ${column})`,
      details,
    });
  });

  it("commas inside quotes, {} and in.(...) do not split; quotes are removed only around a whole value", () => {
    const tree = parseLogic("or", true, '(tags.cs.{a,b},id.in.(1,"2,3"),name.eq."x,\\"y\\")",name.eq."p"q,and(a->>k.eq.{},b.is.null))');
    expect(tree).toMatchObject({
      kind: "logic",
      op: "or",
      negate: true,
      children: [
        { op: "cs", value: "{a,b}" },
        { op: "in", list: ["1", "2,3"] },
        { op: "eq", value: 'x,"y")' },
        { op: "eq", value: '"p"q' },
        { kind: "logic", op: "and", children: [{ field: { name: "a", path: [{ arrow: "->>", key: "k" }] }, value: "{}" }, { op: "is" }] },
      ],
    });
  });
});

describe("columns=", () => {
  it("names, quoted or not, with spaces around the commas; each once", () => {
    expect(parseColumns('id, "a,b" ,c d,id')).toEqual(["id", "a,b", "c d"]);
    expect(failure(() => parseColumns("id,")).message).toBe('"failed to parse columns parameter (id,)" (line 1, column 4)');
  });
});
