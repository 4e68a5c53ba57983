-- Operating the gateway: per-issuer rate limits, per-key usage the gateway records, and a statement timeout
-- for writer roles (docs/operations.md).

-- Rate limit per issuer: requests per second and burst, enforced by each function instance with a token
-- bucket (so N instances admit up to N times the rate). Null = no limit (the default).
alter table public.jwt_issuers add column if not exists rate_limit_per_second numeric;
alter table public.jwt_issuers add column if not exists rate_limit_burst integer;
alter table public.jwt_issuers drop constraint if exists jwt_issuers_rate_limit_valid;
alter table public.jwt_issuers add constraint jwt_issuers_rate_limit_valid check (
  (rate_limit_per_second is null and rate_limit_burst is null)
  or (rate_limit_per_second is not null and rate_limit_per_second > 0 and rate_limit_per_second <= 100000
      and (rate_limit_burst is null or rate_limit_burst between 1 and 100000)));

-- The gateway's read model gains the two columns (appended: a view keeps its existing columns in order).
create or replace view public.jwt_registry
with (security_invoker = true)
as
select
  k.issuer,
  k.kid,
  k.alg,
  k.public_key_pem,
  k.public_jwk,
  k.jwks_uri,
  (k.is_active and i.is_active
    and (k.not_before is null or (isfinite(k.not_before) and k.not_before <= now()))
    and (k.expires_at is null or (isfinite(k.expires_at) and k.expires_at > now()))) as usable,
  k.not_before,
  k.expires_at,
  i.db_role,
  federation.is_writer_role(i.db_role) as db_role_valid,
  i.allowed_roles,
  i.max_token_lifetime_seconds,
  i.require_jti,
  i.rate_limit_per_second,
  i.rate_limit_burst
from public.jwt_public_keys k
join public.jwt_issuers i using (issuer);
revoke all on table public.jwt_registry from anon, authenticated, public;
grant select on table public.jwt_registry to service_role;

-- Usage ------------------------------------------------------------------------------------------------
-- Requests per (issuer, kid) and hour, as the gateway counted them in memory and flushed in batches. The
-- kid is '' when the verifying key had none (a JWKS key without kid). Not a foreign key: a JWKS issuer's
-- kids are not registry rows, and usage outlives a deleted key. Kept 35 days (pruned by record_key_usage).
create table if not exists public.jwt_key_usage (
  issuer text not null check (length(issuer) between 1 and 63),
  kid text not null check (length(kid) <= 200),
  hour timestamptz not null check (date_trunc('hour', hour) = hour),
  requests bigint not null default 0 check (requests >= 0),
  -- Answers with a status of 400 or more (the gateway's refusals after verification and PostgREST's errors).
  errors bigint not null default 0 check (errors >= 0),
  last_seen_at timestamptz not null,
  primary key (issuer, kid, hour)
);
create index if not exists jwt_key_usage_hour_idx on public.jwt_key_usage (hour);
comment on table public.jwt_key_usage is 'Requests per (issuer, kid, hour) counted by the rest gateway (fedjwt list shows it).';
alter table public.jwt_key_usage enable row level security;
revoke all on table public.jwt_key_usage from anon, authenticated, public;
-- service_role reads it (fedjwt list/rotate/doctor); only record_key_usage writes it. The policy changes
-- no access (service_role bypasses RLS): it states the intent where the Advisor looks.
revoke all on table public.jwt_key_usage from service_role;
grant select on table public.jwt_key_usage to service_role;
drop policy if exists "service_role reads usage" on public.jwt_key_usage;
create policy "service_role reads usage" on public.jwt_key_usage for select to service_role using (true);

-- Adds one batch of counts: [{issuer, kid, hour, requests, errors, last_seen_at}, …] (at most 1000 rows).
-- Called by the gateway with the service key every few seconds; sums into the hour's row and keeps the
-- latest last_seen_at. Security definer so that service_role needs no write grant on the table.
create or replace function public.record_key_usage(p_usage jsonb)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  n integer;
begin
  if jsonb_typeof(p_usage) is distinct from 'array' or jsonb_array_length(p_usage) > 1000 then
    raise exception 'p_usage must be an array of at most 1000 rows' using errcode = '22023';
  end if;
  insert into public.jwt_key_usage as u (issuer, kid, hour, requests, errors, last_seen_at)
  select r.issuer, coalesce(r.kid, ''), date_trunc('hour', r.hour), r.requests, r.errors, r.last_seen_at
  from jsonb_to_recordset(p_usage)
    as r(issuer text, kid text, hour timestamptz, requests bigint, errors bigint, last_seen_at timestamptz)
  where r.issuer is not null and r.hour is not null and r.last_seen_at is not null
    and r.requests >= 0 and r.errors >= 0
  on conflict (issuer, kid, hour) do update
    set requests = u.requests + excluded.requests,
        errors = u.errors + excluded.errors,
        last_seen_at = greatest(u.last_seen_at, excluded.last_seen_at);
  get diagnostics n = row_count;
  delete from public.jwt_key_usage where hour < now() - interval '35 days';
  return n;
end
$$;
revoke execute on function public.record_key_usage(jsonb) from public, anon, authenticated;
grant execute on function public.record_key_usage(jsonb) to service_role;

-- One row per (issuer, kid) ever counted (within the 35 days kept): when it was last seen, and its requests
-- and errors in the hours starting at or after date_trunc('hour', p_since). Read by fedjwt list/rotate/doctor.
create or replace function public.key_usage_summary(p_since timestamptz)
returns table (issuer text, kid text, last_seen_at timestamptz, requests bigint, errors bigint)
language sql
stable
set search_path = ''
as $$
  select u.issuer, u.kid, max(u.last_seen_at),
    coalesce(sum(u.requests) filter (where u.hour >= date_trunc('hour', p_since)), 0)::bigint,
    coalesce(sum(u.errors) filter (where u.hour >= date_trunc('hour', p_since)), 0)::bigint
  from public.jwt_key_usage u
  group by u.issuer, u.kid
  order by u.issuer, u.kid
$$;
revoke execute on function public.key_usage_summary(timestamptz) from public, anon, authenticated;
grant execute on function public.key_usage_summary(timestamptz) to service_role;

-- Statement timeout ------------------------------------------------------------------------------------
-- PostgREST applies the settings of the role it switches to (ALTER ROLE … SET, "impersonated role
-- settings") inside each request's transaction, so a writer's slow query is cancelled (57014) instead of
-- holding the shared database. 8s, as Supabase gives `authenticated`. Settings are per role, not inherited:
-- federated_writer and every role create_writer_role makes get their own, and a role that already has one
-- (an override: `alter role orders_writer set statement_timeout = '30s'`) keeps it.

-- Sets statement_timeout on a writer role unless it already has one (for this database or all).
create or replace function federation.default_writer_statement_timeout(role_name text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not exists (
    select 1
    from pg_catalog.pg_db_role_setting s
    join pg_catalog.pg_roles r on r.oid = s.setrole
    cross join lateral unnest(s.setconfig) as c(cfg)
    where r.rolname = role_name
      and s.setdatabase in (0, (select oid from pg_catalog.pg_database where datname = current_database()))
      and c.cfg like 'statement\_timeout=%'
  ) then
    execute format('alter role %I set statement_timeout = %L', role_name, '8s');
  end if;
end
$$;
revoke execute on function federation.default_writer_statement_timeout(text) from public, anon, authenticated, service_role;

-- create_writer_role as before, plus the default statement timeout.
create or replace function federation.create_writer_role(role_name text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
begin
  if role_name is null or role_name !~ '^[a-z][a-z0-9_]{0,62}$' or role_name ~ '^(pg_|supabase)'
     or role_name in ('anon', 'authenticated', 'service_role', 'authenticator', 'postgres', 'federated_writer') then
    raise exception 'invalid writer role name %', coalesce(role_name, 'null')
      using errcode = '22023', hint = 'lower-case letters, digits and _; not a Supabase or PostgreSQL role';
  end if;
  if exists (select 1 from pg_catalog.pg_roles where rolname = role_name) then
    if not federation.is_writer_role(role_name) then
      raise exception 'role % exists and is not a writer role', role_name using errcode = '42710';
    end if;
  else
    execute format('create role %I nologin inherit', role_name);
  end if;
  execute format('grant federated_writer to %I', role_name);
  execute format('grant %I to authenticator', role_name);
  perform federation.default_writer_statement_timeout(role_name);
  return role_name;
end
$$;
revoke execute on function federation.create_writer_role(text) from public, anon, authenticated;
grant execute on function federation.create_writer_role(text) to service_role;

-- federated_writer and the writer roles that exist now (members of federated_writer granted to authenticator).
select federation.default_writer_statement_timeout(r.rolname)
from pg_catalog.pg_roles r
where r.rolname = 'federated_writer'
   or (federation.is_writer_role(r.rolname)
       and pg_catalog.pg_has_role('authenticator', r.oid, 'MEMBER'));
