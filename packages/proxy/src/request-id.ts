// Request ids: every request gets one, answered in X-Request-Id, written in the access line and sent to
// PostgREST (SQL reads it with federation.request_id()). A writer's own id is kept when well-formed; anything
// else is replaced, never refused and never logged as sent.

/** The header that carries the id, in both directions. */
export const REQUEST_ID_HEADER = "x-request-id";

/** A request id a writer may choose: 1 to 64 of A-Z a-z 0-9 . _ : - (federation.request_id() reads the same shape). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** True when `value` is a request id the gateway keeps as sent. */
export function isWellFormedRequestId(value: string): boolean {
  return REQUEST_ID_PATTERN.test(value);
}

/** Random bytes drawn from the CSPRNG 4 KiB at a time: one getRandomValues call per ~400 ids, not one per request. */
const RANDOM_POOL_BYTES = 4096;
let randomPool = new Uint8Array(0);
let randomUsed = 0;

/** Two hex digits for each byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** RFC 9562 UUID version 7: 48 bits of Unix milliseconds, then random bits (ids sort by time). */
export function uuidV7(nowMs: number = Date.now()): string {
  if (randomUsed + 10 > randomPool.length) {
    randomPool = crypto.getRandomValues(new Uint8Array(RANDOM_POOL_BYTES));
    randomUsed = 0;
  }
  const b = new Uint8Array(16);
  b.set(randomPool.subarray(randomUsed, randomUsed + 10), 6);
  randomUsed += 10;
  let ms = Math.max(0, Math.floor(nowMs));
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  let hex = "";
  for (let i = 0; i < 16; i++) hex += HEX[b[i]!];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The request's id: the writer's X-Request-Id when well-formed, else a new UUIDv7. `replaced` says that one
 * was sent but not kept (its value is never returned, so it cannot reach a log line).
 */
export function requestIdOf(headers: Headers, nowMs: number = Date.now()): { id: string; replaced: boolean } {
  const sent = headers.get(REQUEST_ID_HEADER);
  if (sent !== null && isWellFormedRequestId(sent)) return { id: sent, replaced: false };
  return { id: uuidV7(nowMs), replaced: sent !== null };
}
