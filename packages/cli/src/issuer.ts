import { isPlatformIssuerName, ISSUER_PATTERN } from "@fedjwt/signer";
import { CliError } from "./errors.ts";

/**
 * Refuses an --issuer that no project would ever accept: one off the issuer pattern, or a platform-like
 * name (containing "supabase"), which register, the signer, the gateway and the registry all refuse.
 */
export function checkIssuer(issuer: string): string {
  if (!ISSUER_PATTERN.test(issuer))
    throw new CliError("bad_issuer", `--issuer ${JSON.stringify(issuer)} must match ^[a-z0-9][a-z0-9._-]{0,62}$`);
  if (isPlatformIssuerName(issuer))
    throw new CliError(
      "bad_issuer",
      `--issuer ${JSON.stringify(issuer)} is refused: names containing "supabase" could pass for the platform's own tokens`,
    );
  return issuer;
}
