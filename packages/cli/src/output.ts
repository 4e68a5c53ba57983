/** Where commands write: injectable so tests and embedding callers can capture output. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** The process's own stdout/stderr. */
export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
};

/** Prints a value as one JSON document. */
export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
