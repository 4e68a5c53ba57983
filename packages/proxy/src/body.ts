import { ProxyError } from "./errors.ts";

/** Refuses (413) a request whose declared Content-Length is over `limit`: cheap, so done before verification. */
export function checkDeclaredSize(req: Request, limit: number): void {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw new ProxyError("body_too_large", `the limit is ${limit} bytes`);
}

/**
 * Reads a stream whole, cancelling it and throwing `tooLarge()` as soon as it grows past `limit` bytes,
 * whatever a declared length said.
 */
export async function readLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
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
 * said. Null when there is none.
 */
export async function readBody(req: Request, limit: number): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!req.body) return null;
  return await readLimited(req.body, limit, () => new ProxyError("body_too_large", `the limit is ${limit} bytes`));
}
