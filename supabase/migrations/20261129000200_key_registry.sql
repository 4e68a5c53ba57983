-- The registry of trusted writers: one row per issuer (its policy) and one per public key or JWKS URL.
-- Read by the `rest` gateway with the service_role key; invisible to anon and authenticated.
-- Every change is written to an append-only audit table by a trigger.

-- A writer's db_role must be a writer role (federation.is_writer_role, in the helpers migration): the line
-- between "a principal of its own, scoped by its grants and RLS" and "a Supabase Auth user or the platform".

-- True when an issuer name could be mistaken for a platform issuer: the legacy anon/service keys carry
-- `iss` `supabase` (hosted) or `supabase-demo` (local), so no writer may be named anything like them.
create or replace function federation.is_platform_issuer_name(name text)
returns boolean
language sql immutable
set search_path = ''
as $$
  select name ~ 'supabase'
$$;

-- True when every element is an application role name the gateway accepts.
create or replace function federation.are_app_role_names(names text[])
returns boolean
language sql immutable
set search_path = ''
as $$
  select names is not null
    and array_position(names, null) is null
    and coalesce(bool_and(n ~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,62}$'), true)
  from unnest(names) as n
$$;

create table if not exists public.jwt_issuers (
  issuer text primary key
    check (issuer ~ '^[a-z0-9][a-z0-9._-]{0,62}$')
    constraint jwt_issuers_not_platform_issuer check (not federation.is_platform_issuer_name(issuer)),
  description text,
  -- The database role PostgREST switches to for this writer: federated_writer or a per-writer role made
  -- with federation.create_writer_role(). Never authenticated, anon, service_role or a privileged role.
  db_role text not null default 'federated_writer'
    constraint jwt_issuers_db_role_writer check (federation.is_writer_role(db_role)),
  -- Application roles the writer may request (token claim `roles`); they reach RLS as `app_roles`.
  allowed_roles text[] not null default '{}'
    check (federation.are_app_role_names(allowed_roles)),
  -- Upper bound on exp - iat of the writer's tokens.
  max_token_lifetime_seconds integer not null default 300
    check (max_token_lifetime_seconds between 1 and 3600),
  -- When true, every token needs a jti, and a jti is accepted once (replay table).
  require_jti boolean not null default false,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deactivated_at timestamptz
);
comment on table public.jwt_issuers is 'Federated writers and their policy. Managed with the service_role key (fedjwt register/deactivate).';

create table if not exists public.jwt_public_keys (
  id bigint generated always as identity primary key,
  issuer text not null references public.jwt_issuers (issuer) on update cascade on delete restrict,
  -- Key id as it appears in token headers. Null only for a jwks_uri row, whose JWKS names its own kids.
  kid text check (kid is null or length(kid) between 1 and 200),
  alg text not null check (alg in ('ES256', 'RS256', 'EdDSA')),
  public_key_pem text check (public_key_pem is null or public_key_pem like '-----BEGIN PUBLIC KEY-----%'),
  public_jwk jsonb check (public_jwk is null or (jsonb_typeof(public_jwk) = 'object' and not public_jwk ? 'd')),
  -- https (or http on loopback, for local development); the gateway enforces the same rule.
  jwks_uri text check (jwks_uri is null or jwks_uri ~ '^(https://|http://(127\.0\.0\.1|localhost|\[::1\])(:|/))'),
  is_active boolean not null default true,
  not_before timestamptz,
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deactivated_at timestamptz,
  -- A key row carries exactly one of: a PEM, a JWK, or a JWKS URL.
  constraint jwt_public_keys_one_key_source check (num_nonnulls(public_key_pem, public_jwk, jwks_uri) = 1),
  -- Static keys are addressed by kid; a JWKS row is the issuer's one "any kid from this URL" row.
  constraint jwt_public_keys_kid_iff_static check ((kid is null) = (jwks_uri is not null)),
  constraint jwt_public_keys_validity_window check (expires_at is null or not_before is null or expires_at > not_before),
  -- 'infinity'/'-infinity' are refused: the gateway would have to guess what they mean (it fails closed).
  constraint jwt_public_keys_finite_window check (
    (not_before is null or isfinite(not_before)) and (expires_at is null or isfinite(expires_at)))
);
comment on table public.jwt_public_keys is 'Trusted public keys (or a JWKS URL) per federated writer. Unique per (issuer, kid).';

-- Unique (issuer, kid), where the null kid of a JWKS row also counts: one JWKS URL per issuer.
create unique index if not exists jwt_public_keys_issuer_kid_key
  on public.jwt_public_keys (issuer, kid) nulls not distinct;

-- Keeps updated_at and deactivated_at honest, whoever writes the row.
create or replace function federation.touch_registry_row()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  if tg_op = 'UPDATE' and old.is_active and not new.is_active then
    new.deactivated_at := now();
  elsif new.is_active then
    new.deactivated_at := null;
  end if;
  return new;
end
$$;

drop trigger if exists touch on public.jwt_issuers;
create trigger touch before insert or update on public.jwt_issuers
  for each row execute function federation.touch_registry_row();
drop trigger if exists touch on public.jwt_public_keys;
create trigger touch before insert or update on public.jwt_public_keys
  for each row execute function federation.touch_registry_row();

-- What the gateway reads: one row per key with its issuer's policy. `usable` folds both is_active flags and
-- the key's window, computed here at read time (so 'infinity' and clock parsing cannot fail open), and
-- `db_role_valid` re-checks the issuer's db_role at read time: a role changed after the row was written
-- (granted authenticated, made BYPASSRLS, …) is refused by the gateway.
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
  i.require_jti
from public.jwt_public_keys k
join public.jwt_issuers i using (issuer);
comment on view public.jwt_registry is 'Read model for the rest gateway (service_role only).';

-- Access: RLS on with no policies, and no grants to the API's public roles. service_role bypasses RLS.
alter table public.jwt_issuers enable row level security;
alter table public.jwt_public_keys enable row level security;
revoke all on table public.jwt_issuers, public.jwt_public_keys, public.jwt_registry from anon, authenticated, public;
grant select, insert, update, delete on table public.jwt_issuers, public.jwt_public_keys to service_role;
grant select on table public.jwt_registry to service_role;
-- Identity sequences get Supabase's default privileges (anon/authenticated USAGE, UPDATE): take them back.
revoke all on sequence public.jwt_public_keys_id_seq from anon, authenticated, public;

-- Audit -------------------------------------------------------------------------------------------------
create table if not exists public.jwt_registry_audit (
  id bigint generated always as identity primary key,
  at timestamptz not null default clock_timestamp(),
  -- The database role that made the change (service_role through the API, postgres from SQL).
  actor_role text not null,
  -- The login behind it (authenticator for API requests).
  session_user_name text not null,
  -- The API caller's token subject and issuer, when the change came through PostgREST.
  jwt_sub text,
  jwt_iss text,
  table_name text not null,
  operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
  old_row jsonb,
  new_row jsonb
);
comment on table public.jwt_registry_audit is 'Append-only history of every change to jwt_issuers and jwt_public_keys.';

-- Runs as the owner so that nobody needs write access to the audit table. current_setting('role') is
-- the role the session SET (PostgREST sets service_role); security definer does not change it.
create or replace function federation.audit_registry_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  claims jsonb := coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb;
  actor text := nullif(current_setting('role', true), 'none');
begin
  insert into public.jwt_registry_audit
    (actor_role, session_user_name, jwt_sub, jwt_iss, table_name, operation, old_row, new_row)
  values (
    coalesce(actor, session_user::text),
    session_user::text,
    claims ->> 'sub',
    claims ->> 'iss',
    tg_table_name,
    tg_op,
    case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end,
    case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end
  );
  return null;
end
$$;
revoke execute on function federation.audit_registry_change() from public, anon, authenticated, service_role;

drop trigger if exists audit on public.jwt_issuers;
create trigger audit after insert or update or delete on public.jwt_issuers
  for each row execute function federation.audit_registry_change();
drop trigger if exists audit on public.jwt_public_keys;
create trigger audit after insert or update or delete on public.jwt_public_keys
  for each row execute function federation.audit_registry_change();

-- Append-only: rows can be added (by the trigger above) but never changed or removed, by anyone.
create or replace function federation.refuse_audit_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'jwt_registry_audit is append-only' using errcode = '42501';
end
$$;

drop trigger if exists append_only on public.jwt_registry_audit;
create trigger append_only before update or delete on public.jwt_registry_audit
  for each row execute function federation.refuse_audit_change();
drop trigger if exists append_only_truncate on public.jwt_registry_audit;
create trigger append_only_truncate before truncate on public.jwt_registry_audit
  for each statement execute function federation.refuse_audit_change();

alter table public.jwt_registry_audit enable row level security;
revoke all on table public.jwt_registry_audit from anon, authenticated, service_role, public;
revoke all on sequence public.jwt_registry_audit_id_seq from anon, authenticated, service_role, public;
grant select on table public.jwt_registry_audit to service_role;
