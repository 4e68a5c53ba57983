const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Namespace for writer subjects (a fixed random UUID of this project): uuidv5(NS, `${iss}\n${sub}`). */
export const WRITER_SUB_NAMESPACE = "6f3c1c9e-5a4b-4f0e-9a51-2f7d0c8e3b14";

/** True for a UUID in canonical text form (what Postgres's ::uuid cast of auth.uid() accepts). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

function toBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** RFC 9562 UUID version 5 (SHA-1, name-based): the same name always gives the same UUID. */
export async function uuidV5(name: string, namespace: string = WRITER_SUB_NAMESPACE): Promise<string> {
  const ns = toBytes(namespace);
  const data = new TextEncoder().encode(name);
  const input = new Uint8Array(ns.length + data.length);
  input.set(ns);
  input.set(data, ns.length);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", input)).slice(0, 16);
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
