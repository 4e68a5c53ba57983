-- Keyless writers: URL issuers (a CI platform, a cluster, a cloud, an OAuth server) and trust policies that
-- admit a workload's own platform-signed token as one existing writer (docs/workload-identity.md).
--
-- A URL issuer maps to no writer by itself. A trust policy binds (issuer URL + exact conditions on named
-- claims) to exactly one writer of public.jwt_issuers, whose db_role, allowed_roles and rate limit apply.
-- Each policy names a provider template; the template's required pins on immutable IDs are checked here,
-- at registration, as the gateway's templates (packages/proxy/src/providers.ts) check them: a policy the
-- templates would refuse never reaches the registry. Service role only; every change audited.

-- Templates -------------------------------------------------------------------------------------------

-- The conditions each provider template requires: a list of alternatives, each a list of claims that must
-- all be pinned (exact value). A policy must satisfy at least one alternative. `custom` and `oauth-client`
-- are handled below (any one exact pin; one of the client claims).
create or replace function federation.trust_policy_required_pins(p_provider text)
returns jsonb
language sql immutable
set search_path = ''
as $$
  select case p_provider
    when 'github-actions' then '[["repository_owner_id", "repository_id"]]'
    when 'gitlab' then '[["namespace_id", "project_id"]]'
    when 'kubernetes' then
      '[["kubernetes.io/namespace", "kubernetes.io/serviceaccount/name"], ["kubernetes.io/serviceaccount/uid"]]'
    when 'google' then '[["sub"]]'
    when 'aws' then '[["https://sts.amazonaws.com/aws_account", "sub"]]'
    when 'entra' then '[["tid", "oid"]]'
    when 'oauth-client' then '[["sub"], ["client_id"], ["azp"]]'
    when 'custom' then '[]'
  end::jsonb
$$;
comment on function federation.trust_policy_required_pins(text) is
  'Per provider template: alternatives of claims a trust policy must pin (mirrors providers.ts).';

-- The shape an immutable ID claim must have, per template: a pin on an ID never takes a name, a pattern or
-- a wildcard. Null when the claim is not an ID claim of the template.
create or replace function federation.trust_policy_id_pattern(p_provider text, p_claim text)
returns text
language sql immutable
set search_path = ''
as $$
  select case
    when p_provider = 'github-actions'
      and p_claim in ('repository_owner_id', 'repository_id', 'enterprise_id', 'actor_id') then '^[0-9]{1,20}$'
    when p_provider = 'gitlab' and p_claim in ('namespace_id', 'project_id') then '^[0-9]{1,20}$'
    when p_provider = 'google' and p_claim = 'sub' then '^[0-9]{1,30}$'
    when p_provider = 'kubernetes' and p_claim = 'kubernetes.io/serviceaccount/uid'
      then '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    when p_provider = 'aws' and p_claim = 'https://sts.amazonaws.com/aws_account' then '^[0-9]{12}$'
    when p_provider = 'entra' and p_claim in ('tid', 'oid')
      then '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  end
$$;

-- Events a template refuses unless a policy lifts them explicitly (allow_events).
create or replace function federation.trust_policy_refused_events(p_provider text)
returns text[]
language sql immutable
set search_path = ''
as $$
  select case p_provider
    when 'github-actions' then array['pull_request_target', 'workflow_run']
    else '{}'::text[]
  end
$$;

-- Templates whose tokens say whether the runner is the platform's own (runner_environment).
create or replace function federation.trust_policy_has_runner_rule(p_provider text)
returns boolean
language sql immutable
set search_path = ''
as $$
  select p_provider in ('github-actions', 'gitlab')
$$;

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
  -- Claim name -> exact string value; every condition must hold (AND). Nested claims are named by their
  -- path with '/' (kubernetes.io/serviceaccount/uid). No patterns: a '*' would be a literal.
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
-- a pin either); the message starts with a stable code the CLI shows as is.
create or replace function federation.trust_policy_problem(
  p_provider text,
  p_issuer_url text,
  p_conditions jsonb,
  p_allow_self_hosted boolean,
  p_allow_events text[]
)
returns text
language plpgsql immutable
set search_path = ''
as $$
declare
  c record;
  pattern text;
  alternatives jsonb := federation.trust_policy_required_pins(p_provider);
  alternative jsonb;
  satisfied boolean := false;
  platform text := federation.trust_policy_platform_issuer(p_issuer_url);
  tenant text;
begin
  if alternatives is null then
    return format('unknown_provider: %s is not a provider template', coalesce(p_provider, 'null'));
  end if;
  if jsonb_typeof(p_conditions) is distinct from 'object' then
    return 'conditions_invalid: conditions must be a JSON object of claim name -> exact string value';
  end if;
  if (select count(*) from jsonb_object_keys(p_conditions)) = 0 then
    return 'missing_required_pin: a policy needs at least one exact condition';
  end if;
  if (select count(*) from jsonb_object_keys(p_conditions)) > 32 then
    return 'conditions_invalid: at most 32 conditions';
  end if;
  for c in select key, value from jsonb_each(p_conditions) loop
    if c.key !~ '^[A-Za-z0-9_][A-Za-z0-9_.:/~-]{0,199}$' then
      return format('conditions_invalid: %s is not a claim name (letters, digits and _.:/~-; nested claims as a/b)', c.key);
    end if;
    if c.key in ('iss', 'aud', 'exp', 'nbf', 'iat', 'jti') then
      return format('conditions_invalid: %s is checked by the gateway itself, not by a condition', c.key);
    end if;
    if jsonb_typeof(c.value) is distinct from 'string' then
      return format('conditions_invalid: the value of %s must be a string (exact match)', c.key);
    end if;
    if length(c.value #>> '{}') not between 1 and 512 then
      return format('conditions_invalid: the value of %s must be 1 to 512 characters', c.key);
    end if;
    if (c.value #>> '{}') ~ '[*?]' then
      return format('glob_not_allowed: conditions are exact; %s = %s holds a wildcard', c.key, c.value #>> '{}');
    end if;
    pattern := federation.trust_policy_id_pattern(p_provider, c.key);
    if pattern is not null and (c.value #>> '{}') !~ pattern then
      return format('id_claim_invalid: %s is an immutable ID of %s and takes its exact ID (%s), not a name or pattern',
        c.key, p_provider, pattern);
    end if;
  end loop;
  -- The template's required pins.
  if p_provider = 'custom' then
    satisfied := true;
  else
    for alternative in select value from jsonb_array_elements(alternatives) loop
      if (select bool_and(p_conditions ? claim) from jsonb_array_elements_text(alternative) as claim) then
        satisfied := true;
      end if;
    end loop;
  end if;
  if not satisfied then
    return format('missing_required_pin: %s requires exact conditions on %s', p_provider,
      (select string_agg((select string_agg(x, ' and ') from jsonb_array_elements_text(a) x), ', or on ')
         from jsonb_array_elements(alternatives) a));
  end if;
  -- A platform's shared issuer belongs to that platform's template.
  if platform is not null and platform <> p_provider then
    return format('provider_mismatch: %s is %s''s issuer, shared by all its tenants: use --provider %s',
      p_issuer_url, platform, platform);
  end if;
  -- Entra: a tenant-specific issuer, and the policy's tid must be that tenant.
  if p_provider = 'entra' then
    tenant := substring(p_issuer_url from '^https://(?:login\.microsoftonline\.com|login\.microsoft\.com|sts\.windows\.net)/([^/]+)');
    if tenant is not null and lower(tenant) <> lower(p_conditions ->> 'tid') then
      return format('issuer_not_allowed: the issuer''s tenant %s differs from the tid condition', tenant);
    end if;
  end if;
  if p_allow_self_hosted and not federation.trust_policy_has_runner_rule(p_provider) then
    return format('conditions_invalid: %s tokens say nothing about runners; --allow-self-hosted does not apply', p_provider);
  end if;
  if p_allow_events is null or array_position(p_allow_events, null) is not null
     or not p_allow_events <@ federation.trust_policy_refused_events(p_provider) then
    return format('conditions_invalid: allow_events may only lift events %s refuses (%s)', p_provider,
      coalesce(nullif(array_to_string(federation.trust_policy_refused_events(p_provider), ', '), ''), 'none'));
  end if;
  return null;
end
$$;

-- The trigger behind it: also refuses a CI template on an access-token issuer (their tokens are ID tokens).
-- Security definer: service_role needs no grant on the federation helpers it calls.
create or replace function federation.check_trust_policy()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  problem text := federation.trust_policy_problem(
    new.provider, new.issuer_url, new.conditions, new.allow_self_hosted, new.allow_events);
  kind text;
begin
  if problem is null and new.provider in ('github-actions', 'gitlab', 'kubernetes', 'google', 'aws') then
    select u.token_kind into kind from public.jwt_url_issuers u where u.issuer_url = new.issuer_url;
    if kind = 'access_token' then
      problem := format('token_kind_mismatch: %s tokens are ID tokens; %s is registered for access tokens',
        new.provider, new.issuer_url);
    end if;
  end if;
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

-- An issuer whose token kind changes under a CI policy would break the rule above: refuse that too.
create or replace function federation.check_url_issuer_kind()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.token_kind = 'access_token' and exists (
    select 1 from public.jwt_trust_policies p
    where p.issuer_url = new.issuer_url and p.provider in ('github-actions', 'gitlab', 'kubernetes', 'google', 'aws')
  ) then
    raise exception 'trust policy refused: token_kind_mismatch: % has policies for ID-token providers', new.issuer_url
      using errcode = '23514', constraint = 'jwt_url_issuers_token_kind';
  end if;
  return new;
end
$$;
revoke execute on function federation.check_url_issuer_kind() from public, anon, authenticated, service_role;

drop trigger if exists check_token_kind on public.jwt_url_issuers;
create trigger check_token_kind before update of token_kind on public.jwt_url_issuers
  for each row execute function federation.check_url_issuer_kind();

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
revoke execute on function federation.trust_policy_required_pins(text), federation.trust_policy_id_pattern(text, text),
  federation.trust_policy_refused_events(text), federation.trust_policy_has_runner_rule(text),
  federation.trust_policy_platform_issuer(text), federation.url_issuer_problem(text),
  federation.trust_policy_problem(text, text, jsonb, boolean, text[])
  from public, anon, authenticated;
grant execute on function federation.url_issuer_problem(text) to service_role;

-- Gateway read model -------------------------------------------------------------------------------------

-- What the gateway reads for a token whose `iss` is a URL: the issuer and its active policies whose writer
-- is active, each with the writer's policy under the names the gateway's per-issuer policy uses. Null when
-- no active URL issuer with exactly that URL has one. db_role_valid re-checks the writer's db_role now.
create or replace function public.trust_policies_for(p_issuer_url text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
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
  group by u.issuer_url
$$;
revoke execute on function public.trust_policies_for(text) from public, anon, authenticated;
grant execute on function public.trust_policies_for(text) to service_role;

-- Usage -------------------------------------------------------------------------------------------------

-- One row per trust policy: when the gateway last admitted a token under it, and its requests and errors in
-- the hours starting at or after date_trunc('hour', p_since). The gateway counts a policy's requests as
-- (issuer = writer, kid = 'policy:<id>') in jwt_key_usage. Read by fedjwt list.
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
