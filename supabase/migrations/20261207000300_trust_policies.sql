-- Keyless writers: URL issuers (a CI platform, a cluster, a cloud, an OAuth server) and trust policies that
-- admit a workload's own platform-signed token as one existing writer (docs/workload-identity.md).
--
-- A URL issuer maps to no writer by itself. A trust policy binds (issuer URL + exact conditions on named
-- claims) to exactly one writer of public.jwt_issuers, whose db_role, allowed_roles and rate limit apply.
-- Each policy names a provider template; the template's required pins on immutable IDs are checked here,
-- at registration, as the gateway's templates (packages/proxy/src/providers.ts) check them: a policy the
-- templates would refuse never reaches the registry. Service role only; every change audited.

-- Templates -------------------------------------------------------------------------------------------

-- Each provider template as the registry checks it (mirrors packages/proxy/src/providers.ts; a test compares
-- the two): `required_pins`, alternatives of claims that must all be pinned (custom: any one claim);
-- `claims`, the condition names a policy may use, each with the shape its value must have (null: any exact
-- value); `not_pinnable`, names that are renamable or reusable and never identify a workload; `refused_events`,
-- events refused unless a policy lifts them; `runner_rule`, whether self-hosted runners are refused unless
-- allowed; `token_kinds`, the URL issuer token kinds the template accepts. Null for an unknown provider.
create or replace function federation.trust_policy_template(p_provider text)
returns jsonb
language sql immutable
set search_path = ''
as $$
  select case p_provider
    when 'github-actions' then jsonb_build_object(
      'required_pins', '[["repository_owner_id", "repository_id"]]'::jsonb,
      'claims', jsonb_build_object(
        'repository_owner_id', '^[0-9]{1,20}$', 'repository_id', '^[0-9]{1,20}$',
        'enterprise_id', '^[0-9]{1,20}$', 'actor_id', '^[0-9]{1,20}$',
        'environment', null, 'ref', null, 'ref_type', null, 'ref_protected', null, 'job_workflow_ref', null,
        'workflow_ref', null, 'event_name', null, 'repository_visibility', null, 'runner_environment', null),
      'not_pinnable', '["repository", "repository_owner", "actor", "sub", "sha", "workflow", "run_id", "run_attempt"]'::jsonb,
      'refused_events', '["pull_request_target", "workflow_run"]'::jsonb,
      'runner_rule', true,
      'token_kinds', '["id_token"]'::jsonb)
    when 'gitlab' then jsonb_build_object(
      'required_pins', '[["namespace_id", "project_id"]]'::jsonb,
      'claims', jsonb_build_object(
        'namespace_id', '^[0-9]{1,20}$', 'project_id', '^[0-9]{1,20}$',
        'ref', null, 'ref_type', null, 'ref_protected', null, 'environment', null, 'environment_protected', null,
        'deployment_tier', null, 'pipeline_source', null, 'ci_config_ref_uri', null, 'runner_environment', null),
      'not_pinnable', '["project_path", "namespace_path", "sub", "user_email", "user_login", "sha", "pipeline_id", "job_id"]'::jsonb,
      'refused_events', '[]'::jsonb,
      'runner_rule', false,
      'token_kinds', '["id_token"]'::jsonb)
    when 'kubernetes' then jsonb_build_object(
      'required_pins', '[["service_account_uid"], ["namespace", "service_account_name"]]'::jsonb,
      'claims', jsonb_build_object(
        'namespace', '^\S(.*\S)?$', 'service_account_name', '^\S(.*\S)?$',
        'service_account_uid', '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
      'not_pinnable', '["sub", "pod_name"]'::jsonb,
      'refused_events', '[]'::jsonb,
      'runner_rule', false,
      'token_kinds', '["id_token"]'::jsonb)
    when 'google' then jsonb_build_object(
      'required_pins', '[["sub"]]'::jsonb,
      'claims', jsonb_build_object('sub', '^[0-9]{10,30}$', 'email', null, 'azp', '^\S(.*\S)?$'),
      'not_pinnable', '["email_verified"]'::jsonb,
      'refused_events', '[]'::jsonb,
      'runner_rule', false,
      'token_kinds', '["id_token"]'::jsonb)
    when 'aws' then jsonb_build_object(
      'required_pins', '[["aws_account", "sub"]]'::jsonb,
      'claims', jsonb_build_object(
        'aws_account', '^[0-9]{12}$', 'sub', '^arn:aws[a-z-]*:\S+$',
        'principal_id', '^\S(.*\S)?$', 'org_id', '^\S(.*\S)?$', 'source_region', null),
      'not_pinnable', '["request_tags", "principal_tags"]'::jsonb,
      'refused_events', '[]'::jsonb,
      'runner_rule', false,
      'token_kinds', '["id_token"]'::jsonb)
    when 'entra' then jsonb_build_object(
      'required_pins', '[["tid", "oid"]]'::jsonb,
      'claims', jsonb_build_object(
        'tid', '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
        'oid', '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
        'azp', '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
        'appid', '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
        'idtyp', null),
      'not_pinnable', '["sub", "upn", "preferred_username"]'::jsonb,
      'refused_events', '[]'::jsonb,
      'runner_rule', false,
      'token_kinds', '["access_token", "id_token"]'::jsonb)
    when 'oauth-client' then jsonb_build_object(
      'required_pins', '[["sub"]]'::jsonb,
      'claims', jsonb_build_object(
        'sub', '^\S(.*\S)?$', 'client_id', '^\S(.*\S)?$', 'azp', '^\S(.*\S)?$', 'cid', '^\S(.*\S)?$',
        'scope', null),
      'not_pinnable', '["preferred_username"]'::jsonb,
      'refused_events', '[]'::jsonb,
      'runner_rule', false,
      'token_kinds', '["access_token", "id_token"]'::jsonb)
    when 'custom' then jsonb_build_object(
      'required_pins', '[]'::jsonb,
      'claims', null,
      'not_pinnable', '[]'::jsonb,
      'refused_events', '[]'::jsonb,
      'runner_rule', false,
      'token_kinds', '["id_token", "access_token"]'::jsonb)
  end
$$;
comment on function federation.trust_policy_template(text) is
  'Provider templates as the registry checks them (mirrors packages/proxy/src/providers.ts).';

-- Issuers that serve every tenant of a platform: only that platform's template may use them, since its
-- pins are what tells one tenant from another. (`custom` with one pin on `ref` would admit every repository.)
create or replace function federation.trust_policy_platform_issuer(p_issuer_url text)
returns text
language sql immutable
set search_path = ''
as $$
  select case
    when p_issuer_url ~ '^https://token\.actions\.githubusercontent\.com(/|$)'
      or p_issuer_url ~ '^https://token\.actions\.[a-z0-9-]+\.ghe\.com(/|$)' then 'github-actions'
    when p_issuer_url ~ '^https://gitlab\.com/?$' then 'gitlab'
    when p_issuer_url ~ '^https://accounts\.google\.com/?$' then 'google'
    when p_issuer_url ~ '^https://(login\.microsoftonline\.com|sts\.windows\.net|login\.microsoft\.com)/' then 'entra'
  end
$$;

-- URL rules ---------------------------------------------------------------------------------------------

-- Why an issuer or JWKS URL is refused, or null: https, or http only on a loopback host (as jwks_uri rows of
-- jwt_public_keys); no user info, query, fragment, whitespace or template braces; never Entra's
-- multi-tenant `common`/`organizations`/`consumers` endpoints, whose tokens come from any tenant.
create or replace function federation.url_issuer_problem(p_url text)
returns text
language sql immutable
set search_path = ''
as $$
  select case
    when p_url is null then 'the URL is missing'
    when length(p_url) > 2048 then 'the URL is longer than 2048 characters'
    when p_url ~ '[[:space:][:cntrl:]]' then 'the URL contains whitespace or control characters'
    when p_url !~ '^(https://|http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?(/|$))'
      then 'the URL must be https (http only for loopback hosts: 127.0.0.1, localhost, [::1])'
    when p_url ~ '^https://$' or p_url ~ '^https://[/:]' then 'the URL has no host'
    when p_url ~ '^https?://[^/]*@' then 'the URL must not carry user info'
    when p_url ~ '[?#]' then 'the URL must not carry a query or fragment'
    when p_url ~ '[{}]' then 'the URL is a template ({...}): register the one issuer tokens carry'
    when p_url ~* '^https://(login\.microsoftonline\.com|login\.microsoft\.com|sts\.windows\.net)/(common|organizations|consumers)(/|$)'
      then 'Entra''s multi-tenant endpoints (common, organizations, consumers) admit any tenant: register the tenant-specific issuer'
  end
$$;

-- Tables ------------------------------------------------------------------------------------------------

create table if not exists public.jwt_url_issuers (
  -- The exact `iss` of the tokens (no normalisation: a trailing slash counts).
  issuer_url text primary key
    constraint jwt_url_issuers_url_valid check (federation.url_issuer_problem(issuer_url) is null),
  -- Null: OIDC discovery at <issuer_url>/.well-known/openid-configuration, whose `issuer` must equal
  -- issuer_url exactly. Else the JWKS is read from this URL.
  jwks_uri text
    constraint jwt_url_issuers_jwks_uri_valid check (jwks_uri is null or federation.url_issuer_problem(jwks_uri) is null),
  -- id_token: header typ absent or JWT. access_token: RFC 9068 (typ at+jwt) as well.
  token_kind text not null default 'id_token' check (token_kind in ('id_token', 'access_token')),
  algs text[] not null
    constraint jwt_url_issuers_algs_valid check (
      cardinality(algs) between 1 and 5
      and array_position(algs, null) is null
      and algs <@ array['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA']),
  -- Upper bound on exp - iat (Entra access tokens live 60-90 minutes: 5400 s at most).
  max_lifetime_seconds integer not null default 3600
    constraint jwt_url_issuers_lifetime_valid check (max_lifetime_seconds between 1 and 5400),
  clock_tolerance_seconds integer not null default 30
    constraint jwt_url_issuers_clock_tolerance_valid check (clock_tolerance_seconds between 0 and 300),
  description text check (description is null or length(description) <= 500),
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deactivated_at timestamptz
);
comment on table public.jwt_url_issuers is
  'Issuers of workload tokens (OIDC discovery or a JWKS URL). Map to no writer by themselves: see jwt_trust_policies.';

create table if not exists public.jwt_trust_policies (
  id uuid primary key default gen_random_uuid(),
  -- The writer this policy admits tokens as: its db_role, allowed_roles and rate limit apply.
  writer text not null references public.jwt_issuers (issuer) on update cascade on delete restrict,
  issuer_url text not null references public.jwt_url_issuers (issuer_url) on update cascade on delete restrict,
  provider text not null
    check (provider in ('github-actions', 'gitlab', 'kubernetes', 'google', 'aws', 'entra', 'oauth-client', 'custom')),
  -- Condition name -> exact string value; every condition must hold (AND). Names are the template's (its
  -- nested claims have flat names: kubernetes service_account_uid, aws aws_account); no patterns.
  conditions jsonb not null,
  -- Admit tokens from self-hosted runners (runner_environment = self-hosted); refused by default.
  allow_self_hosted boolean not null default false,
  -- Events the template refuses that this policy admits all the same (github-actions: pull_request_target,
  -- workflow_run).
  allow_events text[] not null default '{}',
  description text check (description is null or length(description) <= 500),
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deactivated_at timestamptz
);
comment on table public.jwt_trust_policies is
  'Trust policies: (URL issuer + exact claim conditions) -> one writer. Managed with the service_role key (fedjwt trust/untrust).';

create index if not exists jwt_trust_policies_writer_idx on public.jwt_trust_policies (writer);
create index if not exists jwt_trust_policies_issuer_url_idx on public.jwt_trust_policies (issuer_url);
-- Two active policies with the same conditions on one issuer could only ever be ambiguous.
create unique index if not exists jwt_trust_policies_same_conditions_key
  on public.jwt_trust_policies (issuer_url, conditions) where is_active;

-- Why a policy is refused, or null. Run by a trigger on every insert and update (so an update cannot undo
-- a pin either). The answer starts with the same stable code providers.ts's policyProblems() gives.
create or replace function federation.trust_policy_problem(
  p_provider text,
  p_issuer_url text,
  p_conditions jsonb,
  p_allow_self_hosted boolean,
  p_allow_events text[],
  p_token_kind text
)
returns text
language plpgsql immutable
set search_path = ''
as $$
declare
  t jsonb := federation.trust_policy_template(p_provider);
  c record;
  v text;
  pattern text;
  satisfied boolean := false;
  platform text := federation.trust_policy_platform_issuer(p_issuer_url);
  tenant text;
begin
  if t is null then
    return format('unknown_provider: %s is not a provider template', coalesce(p_provider, 'null'));
  end if;
  -- Entra: a tenant-specific issuer (a GUID in its path), never a shared one.
  if p_provider = 'entra' then
    if p_issuer_url ~* '/(common|organizations|consumers|\{tenantid\}|%7btenantid%7d)(/|$)' then
      return 'issuer_not_allowed: Entra''s common, organizations and consumers issuers are shared by every tenant: use the tenant-specific issuer';
    end if;
    tenant := lower(substring(p_issuer_url from
      '^https?://[^/]+/(?:[^/]*/)*?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?:/|$)'));
    if tenant is null then
      return 'issuer_not_allowed: an Entra issuer names its tenant ID (a GUID) in its path';
    end if;
  end if;
  -- A platform's shared issuer belongs to that platform's template: its pins tell one tenant from another.
  if platform is not null and platform <> p_provider then
    return format('issuer_not_allowed: %s is %s''s issuer, shared by all its tenants: use provider %s',
      p_issuer_url, platform, platform);
  end if;
  if jsonb_typeof(p_conditions) is distinct from 'object' then
    return 'conditions_invalid: conditions must be an object of claim name -> exact string value';
  end if;
  if (select count(*) from jsonb_object_keys(p_conditions)) > 16 then
    return 'conditions_invalid: at most 16 conditions';
  end if;
  for c in select key, value from jsonb_each(p_conditions) order by key loop
    if c.key in ('iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'typ') then
      return format('claim_not_pinnable: %s is checked by the gateway itself, not by a policy', c.key);
    end if;
    if t -> 'not_pinnable' ? c.key then
      return format('claim_not_pinnable: %s is a name or one run''s value under %s, not an immutable ID', c.key, p_provider);
    end if;
    if p_provider = 'custom' then
      if c.key !~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,99}$' then
        return format('unknown_claim: %s is not a claim name (letters, digits, _ . : / -)', c.key);
      end if;
      pattern := null;
    elsif not (t -> 'claims') ? c.key then
      return format('unknown_claim: %s policies pin only %s', p_provider,
        (select string_agg(k, ', ') from jsonb_object_keys(t -> 'claims') k));
    else
      pattern := t -> 'claims' ->> c.key;
    end if;
    v := c.value #>> '{}';
    if jsonb_typeof(c.value) is distinct from 'string' or v = '' or length(v) > 512 then
      return format('condition_value_invalid: %s must be a non-empty string of at most 512 characters (matching is exact)', c.key);
    end if;
    if v ~ '[*?]' or v ~ '\[.*\]' then
      return format('glob_not_allowed: %s: matching is exact; write the exact value, not a pattern', c.key);
    end if;
    if pattern is not null and v !~ pattern then
      return format('pin_value_invalid: %s must match %s', c.key, pattern);
    end if;
  end loop;
  -- The template's required pins.
  if p_provider = 'custom' then
    satisfied := exists (select 1 from jsonb_object_keys(p_conditions));
    if not satisfied then
      return 'missing_pin: a custom policy pins at least one claim exactly';
    end if;
  else
    satisfied := exists (
      select 1 from jsonb_array_elements(t -> 'required_pins') alt
      where not exists (select 1 from jsonb_array_elements_text(alt) n where not p_conditions ? n));
    if not satisfied then
      return format('missing_pin: %s policies must pin %s', p_provider,
        (select string_agg((select string_agg(n, ' + ') from jsonb_array_elements_text(alt) n), ', or ')
           from jsonb_array_elements(t -> 'required_pins') alt));
    end if;
  end if;
  if p_provider = 'entra' and lower(p_conditions ->> 'tid') <> tenant then
    return 'issuer_mismatch: tid must be the tenant ID in the issuer URL';
  end if;
  if p_allow_events is null or array_position(p_allow_events, null) is not null
     or not to_jsonb(p_allow_events) <@ (t -> 'refused_events') then
    return format('allow_events_invalid: allow_events lifts only events %s refuses (%s)', p_provider,
      coalesce((select string_agg(e, ', ') from jsonb_array_elements_text(t -> 'refused_events') e), 'none'));
  end if;
  if p_allow_self_hosted and not (t ->> 'runner_rule')::boolean then
    return format('allow_self_hosted_invalid: %s has no runner rule: allow_self_hosted must be false', p_provider);
  end if;
  if p_token_kind is not null and not (t -> 'token_kinds') ? p_token_kind then
    return format('token_kind_not_allowed: %s accepts %s issuers only, not %s', p_provider,
      (select string_agg(k, ' or ') from jsonb_array_elements_text(t -> 'token_kinds') k), p_token_kind);
  end if;
  return null;
end
$$;

-- The trigger behind it, with the URL issuer's token kind. Security definer: service_role needs no grant
-- on the federation helpers it calls.
create or replace function federation.check_trust_policy()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  problem text;
begin
  problem := federation.trust_policy_problem(new.provider, new.issuer_url, new.conditions, new.allow_self_hosted,
    new.allow_events, (select u.token_kind from public.jwt_url_issuers u where u.issuer_url = new.issuer_url));
  if problem is not null then
    raise exception 'trust policy refused: %', problem
      using errcode = '23514', constraint = 'jwt_trust_policies_template',
        hint = 'docs/workload-identity.md lists what each provider template requires';
  end if;
  return new;
end
$$;
revoke execute on function federation.check_trust_policy() from public, anon, authenticated, service_role;

drop trigger if exists check_template on public.jwt_trust_policies;
create trigger check_template before insert or update on public.jwt_trust_policies
  for each row execute function federation.check_trust_policy();

-- An issuer whose token kind changes under a policy whose template refuses the new kind: refused too.
create or replace function federation.check_url_issuer_kind()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  refused text;
begin
  select p.provider into refused
  from public.jwt_trust_policies p
  where p.issuer_url = new.issuer_url
    and not (federation.trust_policy_template(p.provider) -> 'token_kinds') ? new.token_kind
  limit 1;
  if refused is not null then
    raise exception 'trust policy refused: token_kind_not_allowed: % has % policies, which accept no % issuer',
      new.issuer_url, refused, new.token_kind
      using errcode = '23514', constraint = 'jwt_url_issuers_token_kind';
  end if;
  return new;
end
$$;
revoke execute on function federation.check_url_issuer_kind() from public, anon, authenticated, service_role;

drop trigger if exists check_token_kind on public.jwt_url_issuers;
create trigger check_token_kind before update of token_kind on public.jwt_url_issuers
  for each row execute function federation.check_url_issuer_kind();

-- A URL issuer the CHECKs below would refuse is refused first here, with the reason and the code the CLI
-- uses (the CHECKs stay as the backstop).
create or replace function federation.check_url_issuer()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  problem text := federation.url_issuer_problem(new.issuer_url);
begin
  if problem is not null then
    problem := case when problem like 'Entra%' then 'issuer_not_allowed: ' else 'issuer_url_invalid: ' end || problem;
  elsif new.jwks_uri is not null and federation.url_issuer_problem(new.jwks_uri) is not null then
    problem := 'issuer_url_invalid: jwks_uri: ' || federation.url_issuer_problem(new.jwks_uri);
  elsif new.algs is null or cardinality(new.algs) = 0 or array_position(new.algs, null) is not null
     or not new.algs <@ array['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] then
    problem := 'alg_not_allowed: algs are one or more of ES256, ES384, RS256, PS256, EdDSA';
  elsif new.max_lifetime_seconds not between 1 and 5400 then
    problem := 'lifetime_invalid: the max lifetime is 1 to 5400 seconds';
  end if;
  if problem is not null then
    raise exception 'URL issuer refused: %', problem
      using errcode = '23514', constraint = 'jwt_url_issuers_valid',
        hint = 'https (http only on loopback), the exact iss; docs/workload-identity.md';
  end if;
  return new;
end
$$;
revoke execute on function federation.check_url_issuer() from public, anon, authenticated, service_role;

drop trigger if exists check_issuer on public.jwt_url_issuers;
create trigger check_issuer before insert or update on public.jwt_url_issuers
  for each row execute function federation.check_url_issuer();

-- updated_at / deactivated_at, as on the key tables.
drop trigger if exists touch on public.jwt_url_issuers;
create trigger touch before insert or update on public.jwt_url_issuers
  for each row execute function federation.touch_registry_row();
drop trigger if exists touch on public.jwt_trust_policies;
create trigger touch before insert or update on public.jwt_trust_policies
  for each row execute function federation.touch_registry_row();

-- Audit: every change lands in jwt_registry_audit, as for issuers and keys.
drop trigger if exists audit on public.jwt_url_issuers;
create trigger audit after insert or update or delete on public.jwt_url_issuers
  for each row execute function federation.audit_registry_change();
drop trigger if exists audit on public.jwt_trust_policies;
create trigger audit after insert or update or delete on public.jwt_trust_policies
  for each row execute function federation.audit_registry_change();
comment on table public.jwt_registry_audit is
  'Append-only history of every change to jwt_issuers, jwt_public_keys, jwt_url_issuers and jwt_trust_policies.';

-- Access: RLS on, service_role only (the policies change no access: service_role bypasses RLS; they state
-- the intent where the Advisor looks).
alter table public.jwt_url_issuers enable row level security;
alter table public.jwt_trust_policies enable row level security;
revoke all on table public.jwt_url_issuers, public.jwt_trust_policies from anon, authenticated, public;
grant select, insert, update, delete on table public.jwt_url_issuers, public.jwt_trust_policies to service_role;
drop policy if exists "service_role manages URL issuers" on public.jwt_url_issuers;
create policy "service_role manages URL issuers" on public.jwt_url_issuers
  for all to service_role using (true) with check (true);
drop policy if exists "service_role manages trust policies" on public.jwt_trust_policies;
create policy "service_role manages trust policies" on public.jwt_trust_policies
  for all to service_role using (true) with check (true);

-- Template helpers are for the triggers; nobody calls them through the API. The CHECKs of jwt_url_issuers
-- run as the writing role, so service_role keeps url_issuer_problem.
revoke execute on function federation.trust_policy_template(text), federation.trust_policy_platform_issuer(text),
  federation.url_issuer_problem(text), federation.trust_policy_problem(text, text, jsonb, boolean, text[], text)
  from public, anon, authenticated;
grant execute on function federation.url_issuer_problem(text) to service_role;

-- Gateway read model -------------------------------------------------------------------------------------

-- What the gateway reads for a token whose `iss` is a URL: the issuer and its active policies whose writer
-- is active, each with the writer's policy under the names the gateway's per-issuer policy uses. JSON null
-- when no active URL issuer with exactly that URL has one (a JSON null, not SQL NULL, so the Data API
-- answers `null` whatever serves it). db_role_valid re-checks the writer's db_role now.
create or replace function public.trust_policies_for(p_issuer_url text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce((select jsonb_build_object(
    'issuer', jsonb_build_object(
      'issuer_url', u.issuer_url,
      'jwks_uri', u.jwks_uri,
      'token_kind', u.token_kind,
      'algs', to_jsonb(u.algs),
      'max_lifetime_seconds', u.max_lifetime_seconds,
      'clock_tolerance_seconds', u.clock_tolerance_seconds),
    'policies', jsonb_agg(jsonb_build_object(
      'id', p.id,
      'writer', p.writer,
      'provider', p.provider,
      'conditions', p.conditions,
      'allow_self_hosted', p.allow_self_hosted,
      'allow_events', to_jsonb(p.allow_events),
      'writer_policy', jsonb_build_object(
        'db_role', w.db_role,
        'db_role_valid', federation.is_writer_role(w.db_role),
        'allowed_roles', to_jsonb(w.allowed_roles),
        'max_token_lifetime_seconds', w.max_token_lifetime_seconds,
        'require_jti', w.require_jti,
        'rate_limit_per_second', w.rate_limit_per_second,
        'rate_limit_burst', w.rate_limit_burst))
      order by p.created_at, p.id))
  from public.jwt_url_issuers u
  join public.jwt_trust_policies p on p.issuer_url = u.issuer_url and p.is_active
  join public.jwt_issuers w on w.issuer = p.writer and w.is_active
  where u.issuer_url = p_issuer_url and u.is_active
  group by u.issuer_url), 'null'::jsonb)
$$;
revoke execute on function public.trust_policies_for(text) from public, anon, authenticated;
grant execute on function public.trust_policies_for(text) to service_role;

-- Usage -------------------------------------------------------------------------------------------------

-- One row per trust policy: when the gateway last admitted a token under it, and its requests and errors in
-- the hours starting at or after date_trunc('hour', p_since). The gateway counts a policy's requests as
-- (issuer = writer, kid = 'policy:<id>') in jwt_key_usage, which fedjwt list reads through key_usage_summary: this
-- is the same per policy, for SQL.
create or replace function public.trust_policy_usage_summary(p_since timestamptz)
returns table (policy_id uuid, writer text, last_seen_at timestamptz, requests bigint, errors bigint)
language sql
stable
set search_path = ''
as $$
  select p.id, p.writer, max(u.last_seen_at),
    coalesce(sum(u.requests) filter (where u.hour >= date_trunc('hour', p_since)), 0)::bigint,
    coalesce(sum(u.errors) filter (where u.hour >= date_trunc('hour', p_since)), 0)::bigint
  from public.jwt_trust_policies p
  left join public.jwt_key_usage u on u.issuer = p.writer and u.kid = 'policy:' || p.id::text
  group by p.id, p.writer
  order by p.writer, p.id
$$;
revoke execute on function public.trust_policy_usage_summary(timestamptz) from public, anon, authenticated;
grant execute on function public.trust_policy_usage_summary(timestamptz) to service_role;
