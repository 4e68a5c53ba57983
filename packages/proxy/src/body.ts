import { ProxyError } from "./errors.ts";

/** Refuses (413) a request whose declared Content-Length is over `limit`: cheap, so done before verification. */
export function checkDeclaredSize(req: Request, limit: number): void {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw new ProxyError("body_too_large", `the limit is ${limit} bytes`);
}

/** A time limit for reading a whole stream: past `ms`, the read is cancelled and `error()` thrown. */
export interface ReadDeadline {
  ms: number;
  error: () => Error;
}

/**
 * Reads a stream whole, cancelling it and throwing `tooLarge()` as soon as it grows past `limit` bytes,
 * whatever a declared length said, or the deadline's error when it is not complete in time.
 */
export async function readLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  tooLarge: () => Error,
  deadline?: ReadDeadline,
): Promise<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = deadline
    ? new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(deadline.error()), deadline.ms);
      })
    : undefined;
  try {
    for (;;) {
      const { done, value } = expired ? await Promise.race([reader.read(), expired]) : await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge();
      chunks.push(value);
    }
  } catch (e) {
    void reader.cancel().catch(() => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return bytes;
}

/**
 * Reads a request body, refusing it (413) as soon as it grows past `limit` bytes, whatever Content-Length
 * said, and (408) when it has not fully arrived within `timeoutMs`. Null when there is none.
 */
export async function readBody(req: Request, limit: number, timeoutMs: number): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!req.body) return null;
  return await readLimited(req.body, limit, () => new ProxyError("body_too_large", `the limit is ${limit} bytes`), {
    ms: timeoutMs,
    error: () => new ProxyError("body_timeout", `the body did not arrive within ${timeoutMs} ms`),
  });
}
