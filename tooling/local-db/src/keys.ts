// Supabase's well-known local development credentials, exactly as `supabase start` prints them. They are
// public: every local Supabase stack uses them, and they must never be used for a hosted project.

/** The local JWT secret (HS256). */
export const LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

/** anon key: HS256 of {"iss":"supabase-demo","role":"anon","exp":1983812996} with the local secret. */
export const LOCAL_ANON_KEY =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";

/** service_role key: HS256 of {"iss":"supabase-demo","role":"service_role","exp":1983812996}. */
export const LOCAL_SERVICE_ROLE_KEY =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU";

/** The local publishable and secret API keys the Supabase CLI prints (not JWTs: `apikey` only). */
export const LOCAL_PUBLISHABLE_KEY = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH";
export const LOCAL_SECRET_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz";

/** Which JWT an `apikey` stands for at the gateway, or undefined for an unknown key. */
export function jwtForApiKey(apikey: string): string | undefined {
  switch (apikey) {
    case LOCAL_ANON_KEY:
    case LOCAL_PUBLISHABLE_KEY:
      return LOCAL_ANON_KEY;
    case LOCAL_SERVICE_ROLE_KEY:
    case LOCAL_SECRET_KEY:
      return LOCAL_SERVICE_ROLE_KEY;
    default:
      return undefined;
  }
}
