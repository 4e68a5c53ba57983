// What `fedjwt-stack status` says of each function: serving, or broken with its load error.

/** One function as the stack serves it: serving, or broken (it answers 500 with its load error). */
export interface FunctionState {
  name: string;
  status: "serving" | "broken";
  error?: string;
}

/** Each function of a started stack, serving or broken: `rest` first, then by name. */
export function functionStates(stack: {
  functions: { config: { name: string } }[];
  broken: { name: string; error: string }[];
}): FunctionState[] {
  return [
    ...stack.functions.map((f) => ({ name: f.config.name, status: "serving" as const })),
    ...stack.broken.map((b) => ({ name: b.name, status: "broken" as const, error: b.error })),
  ].sort((a, b) => Number(b.name === "rest") - Number(a.name === "rest") || a.name.localeCompare(b.name));
}

/**
 * The functions as `status` lists them: shell comments after the variables (the output stays sourceable), one per
 * function, a broken one with the first line of its load error.
 */
export function formatFunctions(functions: readonly FunctionState[] | undefined): string {
  if (!functions) return "";
  if (functions.length === 0) return "\n# functions: none in supabase/functions";
  const width = Math.max(...functions.map((f) => f.name.length));
  const lines = functions.map((f) =>
    f.status === "serving"
      ? `# function ${f.name.padEnd(width)}  serving`
      : `# function ${f.name.padEnd(width)}  BROKEN (answers 500): ${f.error?.split("\n")[0] ?? "failed to load"}`,
  );
  return `\n${lines.join("\n")}`;
}
