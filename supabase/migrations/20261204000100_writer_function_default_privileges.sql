-- Functions created later lose PUBLIC's EXECUTE too, so a writer role reaches only the functions granted to it.
--
-- …001000_writer_function_privileges revoked PUBLIC's EXECUTE on the functions that existed then. Postgres
-- would give it back to every function created afterwards: EXECUTE for PUBLIC is a built-in default. The
-- global form of default privileges (FOR ROLE, no IN SCHEMA) can remove a built-in default; the per-schema
-- form cannot (it only adds grants). So, from here on, a function created by `postgres` (your migrations,
-- the SQL editor, the dashboard) gets no EXECUTE for PUBLIC, in any schema:
--   * in `public`, Supabase's own per-schema default privileges still grant it to anon, authenticated and
--     service_role, as before: the Data API keeps working for them; a writer role gets 42501 until a migration
--     grants it (`grant execute on function public.f(…) to federated_writer;`). A project with Supabase's
--     "Default privileges for new entities" turned off has no such grants: grant anon and authenticated
--     what they call, as Supabase's Data API guide says for that setting;
--   * in any other schema (`private`, `extensions`, your own), nobody but the owner (and superusers) may call
--     it until you grant it. A helper that your RLS policies call for signed-in users needs
--     `grant execute on function private.f(…) to authenticated;`: policies, views, column defaults, check
--     constraints, the body of a trigger function and PostgREST's db_pre_request all call functions as the
--     current role. A trigger function itself needs nothing (EXECUTE is checked when the trigger is created).
--   * functions of an extension you create later are created by whoever runs its script: by `postgres`
--     where it is a superuser (a local cluster) they get no PUBLIC EXECUTE either; on hosted Supabase
--     the platform runs extension scripts as `supabase_admin`, whose default privileges `postgres` cannot
--     change, so they keep PUBLIC's EXECUTE as they always had.
-- The same is done for `supabase_admin` only where the migrating role may (a member of it, e.g. a local
-- superuser); on hosted Supabase that part is skipped. This supersedes the last paragraph of …001000's
-- comment (a function added later no longer gets PUBLIC's EXECUTE back when postgres creates it); that
-- migration is left byte for byte as it was, since projects have already applied and adopted it. Undo with
-- `alter default privileges for role postgres grant execute on functions to public;`.
alter default privileges for role postgres revoke execute on functions from public;

-- A project that adopted …001000 before this migration existed may have added functions to `public` since
-- (or its own migrations may sort between the two): they got PUBLIC's EXECUTE back. Take it again, as
-- …001000 did, so an upgrade leaves no writer-callable function behind. anon, authenticated and service_role
-- keep what Supabase's default privileges granted them (a function they reached only through PUBLIC, as with
-- "Default privileges for new entities" off, needs its grant); functions postgres does not own only warn.
revoke execute on all routines in schema public from public;

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'supabase_admin')
     and pg_has_role(current_user, 'supabase_admin', 'MEMBER') then
    alter default privileges for role supabase_admin revoke execute on functions from public;
  end if;
end
$$;
