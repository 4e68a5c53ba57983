-- Writer roles stay writer roles: no borrowed privileges, no owned objects.
--
-- `federation.is_writer_role` (first defined in the helpers migration) checked a role's attributes and
-- its membership in the Supabase API roles. A writer role could still be granted a PostgreSQL predefined
-- role (`pg_write_all_data`, `pg_read_all_data`, `pg_read_server_files`, …), a Supabase service role
-- (`supabase_*`, `pgsodium_*`, `dashboard_user`), any LOGIN role (a login role is a user: its privileges
-- are its own), or own a table, function or schema (an owner bypasses RLS unless FORCE is set, and may
-- ALTER or DROP what it owns). Each of those hands a writer more than its grants, so each now makes the
-- role not a writer role: the registry's CHECK refuses it on write and the `jwt_registry` view flags it
-- at read time (`db_role_valid` false, which the gateway refuses with `db_role_refused`).
create or replace function federation.is_writer_role(role_name text)
returns boolean
language sql stable
set search_path = ''
as $$
  with target as (
    select r.oid, r.rolname, r.rolcanlogin
    from pg_catalog.pg_roles r
    where r.rolname = role_name
  ),
  -- every role whose privileges the target has or can take (itself included)
  reach as (
    select p.oid, p.rolname, p.rolsuper, p.rolbypassrls, p.rolcreaterole, p.rolreplication, p.rolcanlogin
    from pg_catalog.pg_roles p, target t
    where pg_catalog.pg_has_role(t.oid, p.oid, 'MEMBER')
  )
  select coalesce((
    select not t.rolcanlogin
      and t.rolname !~ '^(pg_|supabase)'
      and pg_catalog.pg_has_role(t.oid, w.oid, 'MEMBER')
      and not exists (
        select 1
        from reach p
        where p.rolsuper or p.rolbypassrls or p.rolcreaterole or p.rolreplication
          or (p.rolcanlogin and p.oid <> t.oid)
          or p.rolname ~ '^(pg_|supabase|pgsodium)'
          or p.rolname in ('anon', 'authenticated', 'service_role', 'authenticator', 'postgres', 'dashboard_user')
      )
      and not exists (select 1 from pg_catalog.pg_class c where c.relowner in (select oid from reach))
      and not exists (select 1 from pg_catalog.pg_proc f where f.proowner in (select oid from reach))
      and not exists (select 1 from pg_catalog.pg_namespace n where n.nspowner in (select oid from reach))
    from target t, pg_catalog.pg_roles w
    where w.rolname = 'federated_writer'
  ), false)
$$;
