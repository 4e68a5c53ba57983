import type { Outcome } from "./writer.ts";

/** One line per outcome: ✓ when it went as the policy says it should, ✗ otherwise. */
export function formatOutcomes(title: string, outcomes: Outcome[]): string {
  const lines = outcomes.map((o) => {
    const asExpected = o.ok === (o.expected === "allowed");
    const verdict = o.ok ? "allowed" : `denied (${o.code ?? "?"})`;
    return `  ${asExpected ? "✓" : "✗"} ${o.action.padEnd(22)} ${String(o.status).padEnd(4)} ${verdict}${o.expected === "denied" && !o.ok ? " — as the policy intends" : ""}: ${o.message}`;
  });
  return [`${title}`, ...lines].join("\n");
}
