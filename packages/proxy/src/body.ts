import { ProxyError } from "./errors.ts";

/** Refuses (413) a request whose declared Content-Length is over `limit`: cheap, so done before verification. */
export function checkDeclaredSize(req: Request, limit: number): void {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw new ProxyError("body_too_large", `the limit is ${limit} bytes`);
}

/**
 * Reads a request body, refusing it (413) as soon as it grows past `limit` bytes, whatever Content-Length
 * said. Null when there is none.
 */
export async function readBody(req: Request, limit: number): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!req.body) return null;
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new ProxyError("body_too_large", `the limit is ${limit} bytes`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    body.set(c, offset);
    offset += c.byteLength;
  }
  return body;
}
