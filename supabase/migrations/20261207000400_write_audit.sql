-- Request ids and the write audit: which writer, which request, when — kept by the database itself.
--
-- The gateway gives every request an id (the writer's own `X-Request-Id` when well-formed, else a new
-- UUIDv7), answers it in `X-Request-Id`, writes it in its access-log line and sends it on to PostgREST,
-- which exposes the request's headers to SQL (`request.headers`, names lower-cased). federation.request_id()
-- reads it there.
--
-- federation.enable_write_audit(table) puts a trigger on a table (one with a primary key) that appends one
-- row per inserted, updated or deleted row to federation.write_audit: when, which table, which operation,
-- the primary key, the names of the changed columns (their values only when the owner opts in per table),
-- who wrote it and the request id. Who wrote it comes from the gateway-minted claims only (the same trust
-- rule as the federation.* helpers); a request id is recorded as given, never taken as identity.
--
-- The audit table lives in the non-exposed `federation` schema with no grants: no API role (writers, anon,
-- authenticated, service_role) can read, write, change or delete it. service_role reads it through
-- public.write_audit_rows (what `fedjwt audit` calls). Rows are never updated or deleted, by anyone, except
-- by federation.purge_write_audit(older_than), which removes rows older than the given age.

-- Request id ---------------------------------------------------------------------------------------------

-- The request's id as the gateway sent it in `X-Request-Id` (PostgREST's request.headers), or null when
-- there is none or it is not well-formed (1 to 64 of A-Z a-z 0-9 . _ : -): a direct API caller's
-- header is kept only in that shape, so no request can write an audit row of any size.
create or replace function federation.request_id()
returns text
language sql stable
set search_path = ''
as $$
  select case when id ~ '^[A-Za-z0-9._:-]{1,64}$' then id end
  from (
    select nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-request-id' as id
  ) h
$$;
grant execute on function federation.request_id() to anon, authenticated, service_role, federated_writer;

-- The audit table -------------------------------------------------------------------------------------
create table if not exists federation.write_audit (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  -- schema.table, unquoted (e.g. public.orders).
  table_name text not null,
  op text not null check (op in ('INSERT', 'UPDATE', 'DELETE')),
  -- The row's primary key as {column: value}: the new row's for INSERT and UPDATE, the old row's for DELETE.
  pk jsonb not null,
  -- An UPDATE that changed the primary key: the old row's key (so a renumbered row keeps its history).
  -- Null otherwise.
  old_pk jsonb,
  -- INSERT: the columns given a value (not null); UPDATE: the columns whose value changed; DELETE: null.
  changed_columns text[],
  -- Only on tables audited with values (enable_write_audit(t, with_values => true)): the old and new
  -- values of the changed columns (the whole row for INSERT and DELETE). Null otherwise.
  old_values jsonb,
  new_values jsonb,
  -- The writer's issuer name for a gateway-minted writer request; otherwise the database role that made
  -- the change (authenticated, service_role, anon, or e.g. postgres from SQL).
  writer text not null,
  -- The writer's own subject (writer_sub claim), or the token's sub (the Auth user id) for other requests.
  writer_sub text,
  -- The key id the writer's token was verified with (writer_kid claim), or policy:<id> for a trust policy.
  writer_kid text,
  -- The gateway's request id (X-Request-Id), as federation.request_id() reads it.
  request_id text
);
comment on table federation.write_audit is
  'Append-only history of writes to audited tables (federation.enable_write_audit): who, which request, when.';

-- Index plan (docs/operations.md shows the plans at 10 million rows): every query fedjwt audit makes is a
-- range scan newest first, by writer, by table or by time alone; a request id is looked up exactly.
create index if not exists write_audit_writer_at_idx on federation.write_audit (writer, at, id);
create index if not exists write_audit_table_at_idx on federation.write_audit (table_name, at, id);
create index if not exists write_audit_at_idx on federation.write_audit (at, id);
create index if not exists write_audit_request_id_idx on federation.write_audit (request_id) where request_id is not null;

alter table federation.write_audit enable row level security;
-- No grants and no permissive policy: no role but the owner sees a row. This policy changes no access; it
-- states that intent where the Advisor looks (its "RLS enabled, no policy" notice).
drop policy if exists "no role reads or writes it directly" on federation.write_audit;
create policy "no role reads or writes it directly" on federation.write_audit
  as restrictive for all to public using (false) with check (false);
revoke all on table federation.write_audit from public, anon, authenticated, service_role, federated_writer;
revoke all on sequence federation.write_audit_id_seq from public, anon, authenticated, service_role, federated_writer;

-- Append-only: no update, no truncate, and a delete only of rows older than what purge_write_audit was asked
-- to remove, inside its own call (it sets the transaction-local bound it checks). Even the owner is refused.
create or replace function federation.write_audit_append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  bound text := nullif(current_setting('federation.write_audit_purge_before', true), '');
begin
  if tg_op = 'DELETE' and bound is not null and extract(epoch from old.at) < bound::numeric then
    return old;
  end if;
  raise exception 'federation.write_audit is append-only'
    using errcode = '42501', hint = 'only federation.purge_write_audit(older_than) removes old rows';
end
$$;
revoke execute on function federation.write_audit_append_only() from public, anon, authenticated, service_role, federated_writer;

drop trigger if exists append_only on federation.write_audit;
create trigger append_only before update or delete on federation.write_audit
  for each row execute function federation.write_audit_append_only();
drop trigger if exists append_only_truncate on federation.write_audit;
create trigger append_only_truncate before truncate on federation.write_audit
  for each statement execute function federation.write_audit_append_only();

-- Removes the audit rows older than `older_than` (at least 1 hour) and returns how many. Schedule it with
-- pg_cron (docs/operations.md). For the owner (migrations, SQL editor, pg_cron) only.
create or replace function federation.purge_write_audit(older_than interval)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  cutoff timestamptz;
  n bigint;
begin
  if older_than is null or older_than < interval '1 hour' then
    raise exception 'older_than must be at least 1 hour (got %)', coalesce(older_than::text, 'null')
      using errcode = '22023';
  end if;
  cutoff := now() - older_than;
  perform set_config('federation.write_audit_purge_before', extract(epoch from cutoff)::text, true);
  delete from federation.write_audit where at < cutoff;
  get diagnostics n = row_count;
  perform set_config('federation.write_audit_purge_before', '', true);
  return n;
end
$$;
revoke execute on function federation.purge_write_audit(interval) from public, anon, authenticated, service_role, federated_writer;

-- The trigger -------------------------------------------------------------------------------------------

-- Appends one audit row for the row it fires on. Arguments (set by enable_write_audit): 'values' or
-- 'no-values', then the primary key's column names. Runs as the owner so nobody needs a grant on the audit
-- table; current_setting('role') is still the role the request runs as (SECURITY DEFINER does not change
-- it), and the writer columns follow the federation.* trust rule: a gateway-minted claim, a registered
-- issuer's name that is not a platform one, and a writer role. An audit insert that fails fails the write.
create or replace function federation.write_audit_row()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  claims jsonb := coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb;
  acting text := coalesce(nullif(current_setting('role', true), 'none'), session_user::text);
  n jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  o jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  r jsonb := coalesce(n, o);
  with_values boolean := tg_argv[0] = 'values';
  is_writer boolean;
  row_key jsonb;
  old_key jsonb;
  -- federation.request_id(), read here directly: a SQL function call per audited row costs more than the rest.
  rid text := nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-request-id';
  changed text[];
begin
  is_writer := coalesce(
    claims ->> 'fedjwt_gateway' = '1'
      and (claims ->> 'iss') ~ '^[a-z0-9][a-z0-9._-]{0,62}$'
      and (claims ->> 'iss') !~ 'supabase'
      and pg_catalog.pg_has_role(acting, 'federated_writer', 'MEMBER'),
    false);
  if tg_nargs = 2 then
    row_key := jsonb_build_object(tg_argv[1], r -> tg_argv[1]);
  else
    select jsonb_object_agg(c, r -> c) into row_key from unnest(tg_argv[1:tg_nargs - 1]) as c;
  end if;
  -- An update that changes the key: the old key too, or the row's history would end at the renumbering.
  if tg_op = 'UPDATE' then
    if tg_nargs = 2 then
      old_key := jsonb_build_object(tg_argv[1], o -> tg_argv[1]);
    else
      select jsonb_object_agg(c, o -> c) into old_key from unnest(tg_argv[1:tg_nargs - 1]) as c;
    end if;
    if old_key = row_key then old_key := null; end if;
  end if;
  if tg_op = 'INSERT' then
    select coalesce(array_agg(e.key order by e.key), '{}') into changed
    from jsonb_each(n) as e where e.value <> 'null'::jsonb;
  elsif tg_op = 'UPDATE' then
    select coalesce(array_agg(e.key order by e.key), '{}') into changed
    from jsonb_each(n) as e where e.value is distinct from o -> e.key;
  end if;
  insert into federation.write_audit
    (table_name, op, pk, old_pk, changed_columns, old_values, new_values, writer, writer_sub, writer_kid, request_id)
  values (
    tg_table_schema || '.' || tg_table_name,
    tg_op,
    row_key,
    old_key,
    changed,
    case when with_values and tg_op = 'DELETE' then o
         when with_values and tg_op = 'UPDATE' then (select coalesce(jsonb_object_agg(c, o -> c), '{}') from unnest(changed) c) end,
    case when with_values and tg_op = 'INSERT' then n
         when with_values and tg_op = 'UPDATE' then (select coalesce(jsonb_object_agg(c, n -> c), '{}') from unnest(changed) c) end,
    case when is_writer then claims ->> 'iss' else acting end,
    case when is_writer then claims ->> 'writer_sub' else claims ->> 'sub' end,
    case when is_writer then claims ->> 'writer_kid' end,
    case when rid ~ '^[A-Za-z0-9._:-]{1,64}$' then rid end
  );
  return null;
end
$$;
revoke execute on function federation.write_audit_row() from public, anon, authenticated, service_role, federated_writer;

-- Audits a table: one federation.write_audit row per inserted, updated or deleted row, from now on.
-- `with_values` also keeps the changed columns' values (never by default: they may be personal data).
-- The table needs a primary key (an audit row names its row by it); run it again after changing the key or
-- to switch values on or off. Runs with the caller's rights: only the table's owner may do it.
create or replace function federation.enable_write_audit(target regclass, with_values boolean default false)
returns void
language plpgsql
set search_path = ''
as $$
declare
  rel record;
  key_columns text[];
begin
  select c.relkind, n.nspname, c.relname into rel
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where c.oid = target;
  if rel.relkind is null or rel.relkind not in ('r', 'p') then
    raise exception 'cannot audit %: only tables can be audited', target using errcode = '42809';
  end if;
  if rel.nspname = 'federation' and rel.relname = 'write_audit' then
    raise exception 'cannot audit federation.write_audit itself' using errcode = '42809';
  end if;
  select array_agg(a.attname::text order by k.ord) into key_columns
  from pg_catalog.pg_index i
  cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
  join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
  where i.indrelid = target and i.indisprimary;
  if key_columns is null then
    raise exception 'cannot audit %: it has no primary key', target
      using errcode = '55000',
            hint = 'an audit row names the row it records by its primary key: add one (alter table … add primary key (…)), then enable the audit';
  end if;
  execute format('drop trigger if exists write_audit on %s', target);
  execute format(
    'create trigger write_audit after insert or update or delete on %s for each row execute function federation.write_audit_row(%s)',
    target,
    array_to_string(
      array_prepend(quote_literal(case when with_values then 'values' else 'no-values' end),
                    array(select quote_literal(c) from unnest(key_columns) as c)),
      ', '));
end
$$;
revoke execute on function federation.enable_write_audit(regclass, boolean) from public, anon, authenticated, service_role, federated_writer;

-- Stops auditing a table (its audit rows stay). Only the table's owner may do it.
create or replace function federation.disable_write_audit(target regclass)
returns void
language plpgsql
set search_path = ''
as $$
begin
  execute format('drop trigger if exists write_audit on %s', target);
end
$$;
revoke execute on function federation.disable_write_audit(regclass) from public, anon, authenticated, service_role, federated_writer;

-- Reading it: service_role only ------------------------------------------------------------------------

-- Audit rows newest first, filtered by writer, table (`orders` means public.orders), request id and time,
-- at most p_limit (1 to 10000). What `fedjwt audit` calls with the service key. The query is built from
-- the filters given, so each runs as its own index range scan.
create or replace function public.write_audit_rows(
  p_writer text default null,
  p_table text default null,
  p_request_id text default null,
  p_since timestamptz default null,
  p_limit integer default 100
)
returns table (
  id bigint, at timestamptz, table_name text, op text, pk jsonb, old_pk jsonb, changed_columns text[], old_values jsonb,
  new_values jsonb, writer text, writer_sub text, writer_kid text, request_id text
)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  q text := 'select a.id, a.at, a.table_name, a.op, a.pk, a.old_pk, a.changed_columns, a.old_values, a.new_values, a.writer,'
         || ' a.writer_sub, a.writer_kid, a.request_id from federation.write_audit a where true';
begin
  if p_limit is null or p_limit not between 1 and 10000 then
    raise exception 'p_limit must be between 1 and 10000' using errcode = '22023';
  end if;
  if p_writer is not null then q := q || ' and a.writer = $1'; end if;
  if p_table is not null then
    if position('.' in p_table) = 0 then p_table := 'public.' || p_table; end if;
    q := q || ' and a.table_name = $2';
  end if;
  if p_request_id is not null then q := q || ' and a.request_id = $3'; end if;
  if p_since is not null then q := q || ' and a.at >= $4'; end if;
  q := q || ' order by a.at desc, a.id desc limit $5';
  return query execute q using p_writer, p_table, p_request_id, p_since, p_limit;
end
$$;
revoke execute on function public.write_audit_rows(text, text, text, timestamptz, integer) from public, anon, authenticated, federated_writer;
grant execute on function public.write_audit_rows(text, text, text, timestamptz, integer) to service_role;
