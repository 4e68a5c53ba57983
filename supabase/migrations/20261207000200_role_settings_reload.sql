-- Role settings reach PostgREST. PostgREST reads the settings of the roles it switches to (ALTER ROLE … SET,
-- its "impersonated role settings", such as a writer role's statement_timeout) when it loads its
-- configuration: at start, and again on `NOTIFY pgrst, 'reload config'` (its listener, channel `pgrst`).
-- Until then a changed setting is not applied. So every function of this template that changes a role's
-- settings, or makes a writer role, sends that notification; it is delivered when the transaction commits.
-- Idempotent: functions are replaced, and the trailing notification is harmless when nothing changed.

-- Asks PostgREST to reload its configuration (role settings included) once the transaction commits.
create or replace function federation.reload_postgrest_config()
returns void
language sql
security definer
set search_path = ''
as $$
  select pg_catalog.pg_notify('pgrst', 'reload config')
$$;
revoke execute on function federation.reload_postgrest_config() from public, anon, authenticated, service_role;

-- As in 20261204000200_operations, plus the notification when it sets a timeout.
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
    perform federation.reload_postgrest_config();
  end if;
end
$$;
revoke execute on function federation.default_writer_statement_timeout(text) from public, anon, authenticated, service_role;

-- As in 20261204000200_operations, plus the notification: a new writer role (its grants and its settings)
-- is one PostgREST must reload its configuration for.
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
  perform federation.reload_postgrest_config();
  return role_name;
end
$$;
revoke execute on function federation.create_writer_role(text) from public, anon, authenticated;
grant execute on function federation.create_writer_role(text) to service_role;

-- The timeouts 20261204000200_operations set were never announced: announce them now.
select federation.reload_postgrest_config();
