import { type Io } from "../output.ts";
import { defineCommand, type FlagSpecs } from "../spec.ts";
import { CONNECTION_FLAGS } from "../registry-client.ts";
import { changePolicy, POLICY_FLAGS } from "./register.ts";

const flags = {
  issuer: { type: "string", value: "<name>", required: true, description: "the registered issuer" },
  ...POLICY_FLAGS,
  ...CONNECTION_FLAGS,
} as const satisfies FlagSpecs;

/** `fedjwt policy`: change an existing issuer's policy alone, no key needed. */
export const policyCommand = defineCommand({
  name: "policy",
  summary: "change a registered issuer's policy (roles, lifetime, rate limit)",
  usage: ["--issuer <name> <policy flags> [--local | --url <url> --service-role-key <key>]"],
  description: `Change a registered writer's policy without touching its keys: only the flags given change (the
others keep their values), an unchanged policy writes nothing, and every change is in jwt_registry_audit.
--allowed-role replaces the whole list: give every role the writer keeps. The gateway applies the change
within its cache TTL (5 s by default).`,
  flags,
  examples: [
    "fedjwt policy --local --issuer orders-service --rate-limit 20 --rate-burst 40",
    "fedjwt policy --local --issuer orders-service --rate-limit none",
    'fedjwt policy --url https://prod-abc123.supabase.co --service-role-key "$SUPABASE_SECRET_KEY" --issuer orders-service --allowed-role orders_writer --max-lifetime 120',
  ],
  run: ({ values }, io: Io) => changePolicy(values, io, "policy"),
});
