-- What a Supabase database has before any user migration, for the Docker-free local stack.
-- Written from the facts in Supabase's published init scripts (supabase/postgres,
-- migrations/db/init-scripts) and the auth helper definitions GoTrue installs today; only what this
-- project's migrations, PostgREST's role switching and the RLS examples depend on. Idempotent.

-- Roles --------------------------------------------------------------------------------------------
-- Run as the cluster's superuser: `postgres` (the default local cluster, as `supabase start` had it long
-- ago) or `supabase_admin` (as on hosted Supabase, where `postgres` is not a superuser: it has CREATEROLE,
-- CREATEDB, REPLICATION and BYPASSRLS, owns the database, and runs your migrations).
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    create role postgres login createrole createdb replication bypassrls password 'postgres';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_admin') then
    create role supabase_admin login superuser createdb createrole replication bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin login noinherit createrole noreplication;
  end if;
end
$$;

-- PostgREST logs in as authenticator and may become exactly these roles. The local password is the
-- same as the local postgres password (a development database on loopback only).
alter role authenticator with login password 'postgres';
grant anon, authenticated, service_role to authenticator;

-- API roles get short statement timeouts, as on Supabase.
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

-- Where postgres is not the superuser, it owns the database (hence the public schema) as on Supabase.
do $$
begin
  if current_user <> 'postgres' then
    execute 'alter database postgres owner to postgres';
    grant anon, authenticated, service_role to postgres;
  end if;
end
$$;

-- Schemas ------------------------------------------------------------------------------------------
create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;

create schema if not exists graphql_public;
grant usage on schema graphql_public to postgres, anon, authenticated, service_role;

grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on sequences to postgres, anon, authenticated, service_role;

-- auth: owned by the auth admin. Only the helpers RLS policies call are defined here.
-- As on hosted Supabase, USAGE goes to the API roles and to postgres without GRANT OPTION, and to nobody
-- else: a custom role (a writer role) gets 42501 "permission denied for schema auth" from auth.uid(), and
-- `grant usage on schema auth to <custom role>` run by a non-superuser postgres grants nothing (a
-- warning, not an error). Tests run policies as writer roles, so a policy that would break on hosted
-- Supabase breaks here too.
create schema if not exists auth authorization supabase_auth_admin;
revoke all on schema auth from public;
grant usage on schema auth to anon, authenticated, service_role, postgres;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt() to anon, authenticated, service_role;

-- Realtime's publication exists on every Supabase database; migrations may add tables to it.
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;
