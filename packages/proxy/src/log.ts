/** A structured log sink: one JSON object per event. Never given a token or key. */
export type Logger = (entry: Record<string, unknown> & { level: "info" | "warn" | "error"; event: string }) => void;

/** Writes one JSON line per event to the console (what Supabase's function logs collect). */
export const consoleLogger: Logger = (entry) => {
  const line = JSON.stringify({ time: new Date().toISOString(), ...entry });
  if (entry.level === "error") console.error(line);
  else if (entry.level === "warn") console.warn(line);
  else console.log(line);
};
