-- Writer roles and the claim helpers RLS policies call, in their own schema.
--
-- Writers are principals of their own. PostgREST switches to the registry's `db_role` for a writer's
-- request; that role is `federated_writer` or a per-writer role that is a member of it — never
-- `authenticated` (the role Supabase Auth users get, which every `to authenticated` policy opens to), never
-- anon, service_role or a privileged role. Supabase's default privileges do not reach these roles, so a
-- writer can do nothing until a migration grants it: GRANTs scope tables and operations, RLS scopes rows.
--
-- Why not `auth`: since 2025-04-21 Supabase refuses user-created objects in the auth, storage and realtime
-- schemas, and on hosted projects a custom role cannot use the auth schema at all (auth.uid() raises 42501
-- even after `grant usage on schema auth`, which `postgres` may not grant). So writer policies and these
-- helpers read `request.jwt.claims` themselves and never call auth.*. Supabase's RLS guide puts helper
-- functions in a schema the Data API does not expose; `federation` is that schema.
--
-- Trust rule: the helpers believe a token only when (1) the current role is a writer role, (2) it carries
-- the claim only the gateway mints (`fedjwt_gateway`, which the gateway refuses in inbound tokens), and
-- (3) its `iss` is a registered-issuer-shaped name that is not a platform issuer (`supabase`, …). Supabase
-- Auth users, the anon/service keys and third-party IdP tokens fail all three.

-- Roles ---------------------------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'federated_writer') then
    create role federated_writer nologin noinherit;
  end if;
end
$$;
comment on role federated_writer is 'Federated writers (the rest gateway''s db_role): its members are the per-writer roles.';
-- PostgREST logs in as authenticator and may only SET ROLE to roles granted to it.
grant federated_writer to authenticator;

create schema if not exists federation;
comment on schema federation is 'Federated writer helpers for RLS policies (not exposed through the Data API).';
-- anon/authenticated keep usage so that a policy with no `to` clause can call the helpers for them (the
-- helpers answer null/false); writers need it for their own policies.
grant usage on schema federation to anon, authenticated, service_role, federated_writer;
grant usage on schema public to federated_writer;

-- True when `role_name` is a writer role: `federated_writer` itself or a member of it, NOLOGIN, not a
-- member of anon/authenticated/service_role/authenticator, and nowhere near superuser, BYPASSRLS,
-- CREATEROLE or REPLICATION. The registry checks db_role with it on write and again in the view it reads.
create or replace function federation.is_writer_role(role_name text)
returns boolean
language sql stable
set search_path = ''
as $$
  select coalesce((
    select not r.rolcanlogin
      and r.rolname !~ '^(pg_|supabase)'
      and pg_catalog.pg_has_role(r.oid, w.oid, 'MEMBER')
      and not exists (
        select 1
        from pg_catalog.pg_roles p
        where (p.rolsuper or p.rolbypassrls or p.rolcreaterole or p.rolreplication
               or p.rolname in ('anon', 'authenticated', 'service_role', 'authenticator', 'postgres'))
          and pg_catalog.pg_has_role(r.oid, p.oid, 'MEMBER')
      )
    from pg_catalog.pg_roles r, pg_catalog.pg_roles w
    where r.rolname = role_name and w.rolname = 'federated_writer'
  ), false)
$$;

-- Creates (idempotently) a per-writer database role: NOLOGIN, a member of federated_writer (whose grants
-- it inherits), and granted to authenticator so PostgREST can switch to it. Grant it what the writer may
-- do, then register the writer with `db_role` = this name. For migrations and service_role only.
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
  return role_name;
end
$$;
revoke execute on function federation.create_writer_role(text) from public, anon, authenticated;
grant execute on function federation.create_writer_role(text) to service_role;

-- Claim helpers ---------------------------------------------------------------------------------------

-- The request's JWT claims as PostgREST set them, or {} when there are none.
create or replace function federation.claims()
returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

-- True when the request is a gateway-minted writer request (see the trust rule above).
create or replace function federation.is_writer_request()
returns boolean
language sql stable
set search_path = ''
as $$
  select coalesce(
    federation.claims() ->> 'fedjwt_gateway' = '1'
      and (federation.claims() ->> 'iss') ~ '^[a-z0-9][a-z0-9._-]{0,62}$'
      and (federation.claims() ->> 'iss') !~ 'supabase'
      and pg_catalog.pg_has_role(current_user, 'federated_writer', 'MEMBER'),
    false)
$$;

-- The writer's issuer name, or null when the request is not a gateway-minted writer request.
create or replace function federation.issuer()
returns text
language sql stable
set search_path = ''
as $$
  select case when federation.is_writer_request() then federation.claims() ->> 'iss' end
$$;

-- True when the request comes from the named writer.
create or replace function federation.is_issuer(name text)
returns boolean
language sql stable
set search_path = ''
as $$
  select coalesce(federation.issuer() = name, false)
$$;

-- True when the gateway granted the writer this application role (claim app_roles, checked against the
-- registry's allowed_roles before it was signed).
create or replace function federation.has_role(role_name text)
returns boolean
language sql stable
set search_path = ''
as $$
  select federation.is_writer_request()
    and jsonb_typeof(federation.claims() -> 'app_roles') = 'array'
    and (federation.claims() -> 'app_roles') ? role_name
$$;

-- One of the writer's own claims as text, from the `writer_claims` object the gateway nests them in (null
-- when absent or when the request is not a writer's).
create or replace function federation.claim(name text)
returns text
language sql stable
set search_path = ''
as $$
  select case when federation.is_writer_request() then federation.claims() -> 'writer_claims' ->> name end
$$;

-- The writer's own subject as it signed it (`writer_sub`); null for anything but a writer request.
create or replace function federation.writer_sub()
returns text
language sql stable
set search_path = ''
as $$
  select case when federation.is_writer_request() then federation.claims() ->> 'writer_sub' end
$$;

-- The writer's subject as a UUID: the gateway's UUIDv5 of (issuer, writer_sub), unique per writer.
create or replace function federation.writer_uid()
returns uuid
language sql stable
set search_path = ''
as $$
  select case when federation.is_writer_request() then (federation.claims() ->> 'sub')::uuid end
$$;

grant execute on function
  federation.claims(),
  federation.is_writer_request(),
  federation.issuer(),
  federation.is_issuer(text),
  federation.has_role(text),
  federation.claim(text),
  federation.writer_sub(),
  federation.writer_uid(),
  federation.is_writer_role(text)
to anon, authenticated, service_role, federated_writer;
