-- Advisor lints: this project's own re-implementation of some of the checks behind the Supabase
-- dashboard's Security and Performance Advisors, written for this project from the lint descriptions in
-- Supabase's documentation ("Performance and Security Advisors"). The names and levels are Supabase's, so a
-- finding here reads like the dashboard's; the queries are ours, not Supabase's linter, and cover only the
-- lints listed below. Read-only: one statement, no side effects.
--
-- $1 (text[]): the schemas the Data API (PostgREST) exposes, e.g. {public,graphql_public}.
--
--   rls_disabled_in_public       ERROR  table in an exposed schema without row level security
--   policy_exists_rls_disabled   ERROR  table with RLS policies while RLS is disabled (policies do nothing)
--   security_definer_view        ERROR  view in an exposed schema that runs with its owner's rights
--   auth_users_exposed           ERROR  view/materialized view in an exposed schema over auth.users that
--                                       anon or authenticated may read
--   sensitive_columns_exposed    ERROR  table without RLS in an exposed schema with a credential-like column
--   function_search_path_mutable WARN   function without a fixed search_path
--   extension_in_public          WARN   extension installed in the public schema
--   function_executable_by_public WARN  function in an exposed schema that PUBLIC may execute, i.e. every role,
--                                       writer roles included (not a Supabase lint: this project's own)
--   auth_rls_initplan            WARN   policy calling auth.<fn>() or current_setting() once per row instead
--                                       of once per statement through (select …)
--   rls_enabled_no_policy        INFO   table with RLS enabled and no policy (nobody but bypassers see rows)
--   unindexed_foreign_keys       INFO   foreign key without an index on its columns
with
exposed as (
  select unnest($1::text[]) as nspname
),
-- Schemas Supabase manages, never the user's to fix.
platform(nspname) as (
  values ('pg_catalog'), ('information_schema'), ('pg_toast'), ('auth'), ('storage'), ('realtime'),
         ('_realtime'), ('extensions'), ('graphql'), ('graphql_public'), ('vault'), ('pgsodium'),
         ('pgsodium_masks'), ('net'), ('cron'), ('pgbouncer'), ('supabase_functions'),
         ('supabase_migrations'), ('_analytics'), ('pgtle'), ('pgmq')
),
user_schema as (
  select n.oid, n.nspname
  from pg_namespace n
  where n.nspname not in (select nspname from platform)
    and n.nspname not like 'pg\_temp\_%' and n.nspname not like 'pg\_toast\_temp\_%'
),
-- Objects that belong to an extension are the extension's, not the user's.
ext_member as (
  select d.classid, d.objid from pg_depend d where d.deptype = 'e'
),
rel as (
  select c.oid, c.relname, c.relkind, c.relrowsecurity, c.reloptions, n.nspname,
         n.nspname in (select nspname from exposed) as is_exposed
  from pg_class c
  join user_schema n on n.oid = c.relnamespace
  where not exists (select 1 from ext_member e where e.classid = 'pg_class'::regclass and e.objid = c.oid)
),
tbl as (
  select * from rel where relkind in ('r', 'p')
),
findings as (
  -- rls_disabled_in_public
  select 'rls_disabled_in_public' as name, 'ERROR' as level, 'SECURITY' as category,
         format('Table `%s.%s` is in a schema the API exposes, but row level security is not enabled.', t.nspname, t.relname) as detail,
         format('rls_disabled_in_public_%s_%s', t.nspname, t.relname) as cache_key
  from tbl t
  where t.is_exposed and not t.relrowsecurity

  union all
  -- policy_exists_rls_disabled
  select 'policy_exists_rls_disabled', 'ERROR', 'SECURITY',
         format('Table `%s.%s` has RLS policies (%s) but row level security is disabled, so they are not applied.',
                t.nspname, t.relname, (select string_agg(p.polname, ', ' order by p.polname) from pg_policy p where p.polrelid = t.oid)),
         format('policy_exists_rls_disabled_%s_%s', t.nspname, t.relname)
  from tbl t
  where not t.relrowsecurity and exists (select 1 from pg_policy p where p.polrelid = t.oid)

  union all
  -- rls_enabled_no_policy
  select 'rls_enabled_no_policy', 'INFO', 'SECURITY',
         format('Table `%s.%s` has row level security enabled, but no policy exists.', t.nspname, t.relname),
         format('rls_enabled_no_policy_%s_%s', t.nspname, t.relname)
  from tbl t
  where t.relrowsecurity and not exists (select 1 from pg_policy p where p.polrelid = t.oid)

  union all
  -- security_definer_view
  select 'security_definer_view', 'ERROR', 'SECURITY',
         format('View `%s.%s` is defined without security_invoker: it reads with the rights and RLS of its owner, not of the querying user.', v.nspname, v.relname),
         format('security_definer_view_%s_%s', v.nspname, v.relname)
  from rel v
  where v.relkind = 'v' and v.is_exposed
    and not exists (
      select 1 from unnest(coalesce(v.reloptions, '{}'::text[])) o
      where lower(o) in ('security_invoker=true', 'security_invoker=on', 'security_invoker=1', 'security_invoker=yes', 'security_invoker=t')
    )

  union all
  -- auth_users_exposed
  select 'auth_users_exposed', 'ERROR', 'SECURITY',
         format('%s `%s.%s` reads auth.users and is readable by %s through the API.',
                case v.relkind when 'm' then 'Materialized view' else 'View' end, v.nspname, v.relname,
                concat_ws(' and ',
                  case when has_table_privilege('anon', v.oid, 'SELECT') then 'anon' end,
                  case when has_table_privilege('authenticated', v.oid, 'SELECT') then 'authenticated' end)),
         format('auth_users_exposed_%s_%s', v.nspname, v.relname)
  from rel v
  where v.relkind in ('v', 'm') and v.is_exposed
    and (has_table_privilege('anon', v.oid, 'SELECT') or has_table_privilege('authenticated', v.oid, 'SELECT'))
    and exists (
      select 1
      from pg_rewrite r
      join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
      where r.ev_class = v.oid and d.refclassid = 'pg_class'::regclass and d.refobjid = 'auth.users'::regclass
    )
    -- A security_invoker view reads auth.users with the caller's rights, which the API roles lack.
    and (v.relkind = 'm' or not exists (
      select 1 from unnest(coalesce(v.reloptions, '{}'::text[])) o
      where lower(o) in ('security_invoker=true', 'security_invoker=on', 'security_invoker=1', 'security_invoker=yes', 'security_invoker=t')
    ))

  union all
  -- sensitive_columns_exposed
  select 'sensitive_columns_exposed', 'ERROR', 'SECURITY',
         format('Table `%s.%s` is exposed without row level security and has columns that look sensitive: %s.',
                t.nspname, t.relname, string_agg(a.attname, ', ' order by a.attnum)),
         format('sensitive_columns_exposed_%s_%s', t.nspname, t.relname)
  from tbl t
  join pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
  where t.is_exposed and not t.relrowsecurity
    and regexp_replace(lower(a.attname), '[^a-z0-9]', '', 'g') in (
      'password', 'passwd', 'passwordhash', 'hashedpassword', 'secret', 'secretkey', 'clientsecret',
      'apikey', 'apisecret', 'accesstoken', 'refreshtoken', 'authtoken', 'sessiontoken', 'privatekey',
      'ssn', 'socialsecuritynumber', 'taxid', 'passportnumber', 'driverslicense', 'creditcard',
      'creditcardnumber', 'cardnumber', 'cvv', 'cvc', 'iban', 'bankaccount', 'bankaccountnumber',
      'accountnumber', 'routingnumber', 'pin'
    )
  group by t.oid, t.nspname, t.relname

  union all
  -- function_search_path_mutable
  select 'function_search_path_mutable', 'WARN', 'SECURITY',
         format('Function `%s.%s(%s)` has no fixed search_path: name resolution inside it depends on the caller''s.',
                n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
         concat_ws('_', 'function_search_path_mutable', n.nspname, p.proname, nullif(pg_get_function_identity_arguments(p.oid), ''))
  from pg_proc p
  join user_schema n on n.oid = p.pronamespace
  where p.prokind in ('f', 'p')
    and not exists (select 1 from ext_member e where e.classid = 'pg_proc'::regclass and e.objid = p.oid)
    and not exists (select 1 from unnest(coalesce(p.proconfig, '{}'::text[])) c where c like 'search\_path=%')

  union all
  -- function_executable_by_public: Postgres grants EXECUTE to PUBLIC by default; Supabase's default
  -- privileges only add anon/authenticated/service_role. A role that should reach only what it is granted
  -- (a writer role) can then call it through the Data API.
  select 'function_executable_by_public', 'WARN', 'SECURITY',
         format('Function `%s.%s(%s)` may be executed by PUBLIC (every role, writer roles included): revoke execute on it from public and grant it to the roles that need it.',
                n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
         concat_ws('_', 'function_executable_by_public', n.nspname, p.proname, nullif(pg_get_function_identity_arguments(p.oid), ''))
  from pg_proc p
  join user_schema n on n.oid = p.pronamespace
  where n.nspname in (select nspname from exposed)
    and p.prokind in ('f', 'p')
    and not exists (select 1 from ext_member e where e.classid = 'pg_proc'::regclass and e.objid = p.oid)
    and exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a where a.grantee = 0 and a.privilege_type = 'EXECUTE')

  union all
  -- extension_in_public
  select 'extension_in_public', 'WARN', 'SECURITY',
         format('Extension `%s` is installed in the public schema; install it in another schema (e.g. extensions).', e.extname),
         format('extension_in_public_%s', e.extname)
  from pg_extension e
  where e.extnamespace = 'public'::regnamespace

  union all
  -- auth_rls_initplan
  select 'auth_rls_initplan', 'WARN', 'PERFORMANCE',
         format('Policy `%s` on `%s.%s` calls auth.<function>() or current_setting() for each row; wrap the call as (select …) so it runs once per statement.',
                p.polname, t.nspname, t.relname),
         format('auth_rls_initplan_%s_%s_%s', t.nspname, t.relname, p.polname)
  from pg_policy p
  join tbl t on t.oid = p.polrelid
  where concat_ws(' ', pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
        ~ '(?<!SELECT )(auth\.(uid|jwt|role|email)\(\)|current_setting\()'

  union all
  -- unindexed_foreign_keys
  select 'unindexed_foreign_keys', 'INFO', 'PERFORMANCE',
         format('Foreign key `%s` on `%s.%s` has no covering index.', k.conname, t.nspname, t.relname),
         format('unindexed_foreign_keys_%s_%s_%s', t.nspname, t.relname, k.conname)
  from pg_constraint k
  join tbl t on t.oid = k.conrelid
  where k.contype = 'f'
    and not exists (
      select 1
      from pg_index i
      where i.indrelid = k.conrelid
        -- the index's leading columns are exactly the key's columns, in any order
        and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] @> k.conkey
        and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] <@ k.conkey
    )
)
select name, level, category, detail, cache_key
from findings
order by case level when 'ERROR' then 0 when 'WARN' then 1 else 2 end, name, cache_key
