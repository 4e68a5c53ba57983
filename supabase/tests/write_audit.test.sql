-- pgTAP: request ids and the write audit (migration …_write_audit), as `supabase test db` runs them.
--
-- pg_temp.as_request(principal, request_id, statement) runs one statement the way PostgREST runs a request
-- that the gateway forwarded (SET ROLE, request.jwt.claims, request.headers with x-request-id) and keeps
-- its effects; pg_temp.attempt(principal, statement) runs one the same way, rolls it back and returns
-- 'rows:<n>' or the SQLSTATE.
begin;
create extension if not exists pgtap with schema extensions;
select plan(53);

create function pg_temp.claims_of(principal text) returns jsonb
language sql
as $$
  select case principal
    when 'orders' then '{"iss":"orders-service","sub":"22222222-2222-4222-8222-222222222222","writer_sub":"orders-worker","writer_kid":"orders-k1","fedjwt_gateway":1,"app_roles":["orders_writer","stock_reader"],"role":"federated_writer"}'
    when 'inventory' then '{"iss":"inventory-service","sub":"33333333-3333-4333-8333-333333333333","writer_sub":"inventory-worker","writer_kid":"inv-k1","fedjwt_gateway":1,"app_roles":["inventory_writer"],"role":"inventory_service"}'
    -- A Supabase Auth user whose token carries writer-looking claims (the gateway marker included).
    when 'user' then '{"iss":"orders-service","sub":"8d0fd2b3-9ca1-4a58-8b0c-000000000001","writer_sub":"orders-worker","writer_kid":"orders-k1","fedjwt_gateway":1,"role":"authenticated"}'
    -- A workload admitted by a trust policy: the gateway puts policy:<id> in writer_kid.
    when 'workload' then '{"iss":"deploy-bot","sub":"55555555-5555-4555-8555-555555555555","writer_sub":"repo:acme/app:ref:refs/heads/main","writer_kid":"policy:6f1c2d3e-0000-4000-8000-000000000001","fedjwt_gateway":1,"app_roles":[],"role":"federated_writer"}'
    when 'service' then '{"role":"service_role"}'
    when 'anon' then '{"role":"anon"}'
  end::jsonb
$$;

create function pg_temp.as_request(principal text, request_id text, stmt text) returns void
language plpgsql
as $$
declare
  claims jsonb := pg_temp.claims_of(principal);
begin
  perform set_config('request.jwt.claims', claims::text, true);
  perform set_config('request.headers', jsonb_build_object('x-request-id', request_id, 'accept', 'application/json')::text, true);
  perform set_config('role', claims ->> 'role', true);
  execute stmt;
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
  perform set_config('request.headers', '', true);
end
$$;

create function pg_temp.attempt(principal text, stmt text) returns text
language plpgsql
as $$
declare
  claims jsonb := pg_temp.claims_of(principal);
  n bigint;
  outcome text;
begin
  perform set_config('request.jwt.claims', claims::text, true);
  perform set_config('role', claims ->> 'role', true);
  begin
    execute stmt;
    get diagnostics n = row_count;
    raise exception using errcode = 'P0001', message = 'fedjwt-rollback:' || n;
  exception when others then
    outcome := case when sqlerrm like 'fedjwt-rollback:%' then 'rows:' || split_part(sqlerrm, ':', 2) else sqlstate end;
  end;
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
  return outcome;
end
$$;

-- The last audit row of a request id, as {op, table, pk, changed, writer, writer_sub, writer_kid, values}.
create function pg_temp.audit_of(rid text) returns jsonb
language sql
as $$
  select jsonb_build_object('op', op, 'table', table_name, 'pk', pk, 'changed', to_jsonb(changed_columns), 'writer', writer,
    'writer_sub', writer_sub, 'writer_kid', writer_kid, 'old', old_values, 'new', new_values)
  from federation.write_audit where request_id = rid order by id desc limit 1
$$;

-- Request id ---------------------------------------------------------------------------------------------
select set_config('request.headers', '{"x-request-id":"0193a5f0-7c1e-7abc-8def-0123456789ab"}', true);
select is(federation.request_id(), '0193a5f0-7c1e-7abc-8def-0123456789ab', 'request_id() reads x-request-id from request.headers');
select set_config('request.headers', '{"x-request-id":"job-42:attempt.1_a"}', true);
select is(federation.request_id(), 'job-42:attempt.1_a', 'a well-formed id of the writer''s own is read as given');
select set_config('request.headers', '{"x-request-id":"bad id; drop table"}', true);
select is(federation.request_id(), null, 'a malformed id is not read');
select set_config('request.headers', json_build_object('x-request-id', repeat('a', 65))::text, true);
select is(federation.request_id(), null, 'an id over 64 characters is not read');
select set_config('request.headers', '', true);
select is(federation.request_id(), null, 'no headers, no id');

-- A table for the full cycle: writers may insert, update and delete rows.
create table public.pgtap_items (id integer primary key, note text, qty integer not null default 0);
grant select, insert, update, delete on public.pgtap_items to federated_writer, authenticated;
select federation.enable_write_audit('public.pgtap_items');

-- Insert, update, delete by a writer, each with its request id ----------------------------------------
select pg_temp.as_request('orders', 'req-insert-1', $$insert into public.pgtap_items (id, note) values (1, 'secret note')$$);
select is(pg_temp.audit_of('req-insert-1'),
  '{"op":"INSERT","table":"public.pgtap_items","pk":{"id":1},"changed":["id","note","qty"],"writer":"orders-service","writer_sub":"orders-worker","writer_kid":"orders-k1","old":null,"new":null}'::jsonb,
  'a writer''s insert: one audit row with its request id, writer, subject, kid, key and the columns it set');
select pg_temp.as_request('orders', 'req-update-1', $$update public.pgtap_items set qty = 5 where id = 1$$);
select is(pg_temp.audit_of('req-update-1'),
  '{"op":"UPDATE","table":"public.pgtap_items","pk":{"id":1},"changed":["qty"],"writer":"orders-service","writer_sub":"orders-worker","writer_kid":"orders-k1","old":null,"new":null}'::jsonb,
  'a writer''s update: one audit row naming only the changed column');
select pg_temp.as_request('orders', 'req-delete-1', $$delete from public.pgtap_items where id = 1$$);
select is(pg_temp.audit_of('req-delete-1'),
  '{"op":"DELETE","table":"public.pgtap_items","pk":{"id":1},"changed":null,"writer":"orders-service","writer_sub":"orders-worker","writer_kid":"orders-k1","old":null,"new":null}'::jsonb,
  'a writer''s delete: one audit row with the deleted row''s key');
select is((select count(*)::int from federation.write_audit where request_id like 'req-%-1'), 3, 'one audit row per written row');
select is((select count(*)::int from federation.write_audit where table_name = 'public.pgtap_items'
           and (old_values::text like '%secret%' or new_values::text like '%secret%')), 0, 'no values are stored by default');

select pg_temp.as_request('orders', 'not well-formed!', $$insert into public.pgtap_items (id) values (2)$$);
select is((select request_id from federation.write_audit where table_name = 'public.pgtap_items' and pk = '{"id":2}'), null,
  'a request id that federation.request_id() would not read is not recorded either');

-- An update that changes the key: the audit names the row it was as well as the row it became, so a row
-- cannot leave its history by being renumbered (insert 50, renumber it 51, delete 51: row 50 has a trail).
select pg_temp.as_request('orders', 'req-rekey-ins', $$insert into public.pgtap_items (id, note) values (50, 'x')$$);
select pg_temp.as_request('orders', 'req-rekey', $$update public.pgtap_items set id = 51 where id = 50$$);
select is((select jsonb_build_object('pk', pk, 'old_pk', old_pk, 'changed', changed_columns) from federation.write_audit where request_id = 'req-rekey'),
  '{"pk":{"id":51},"old_pk":{"id":50},"changed":["id"]}'::jsonb,
  'an update that changes the primary key records the old key (old_pk) beside the new one');
select is((select old_pk from federation.write_audit where request_id = 'req-update-1'), null,
  'an update that keeps the key has no old_pk');

-- Several rows in one statement: one audit row each.
select pg_temp.as_request('orders', 'req-multi', $$insert into public.pgtap_items (id) values (10), (11), (12)$$);
select is((select array_agg(pk ->> 'id' order by pk ->> 'id') from federation.write_audit where request_id = 'req-multi'), '{10,11,12}', 'a three-row insert writes three audit rows');

-- Values, where the owner opts in ---------------------------------------------------------------------
select federation.enable_write_audit('public.pgtap_items', with_values => true);
select pg_temp.as_request('orders', 'req-values', $$update public.pgtap_items set note = 'n2', qty = 3 where id = 10$$);
select is((select jsonb_build_object('old', old_values, 'new', new_values) from federation.write_audit where request_id = 'req-values'),
  '{"old":{"note":null,"qty":0},"new":{"note":"n2","qty":3}}'::jsonb, 'with_values: the changed columns'' old and new values');
select federation.enable_write_audit('public.pgtap_items');
select pg_temp.as_request('orders', 'req-novalues', $$update public.pgtap_items set note = 'n3' where id = 10$$);
select is((select old_values is null and new_values is null from federation.write_audit where request_id = 'req-novalues'), true,
  'enabling again without values stops storing them');

-- Forging ----------------------------------------------------------------------------------------------
select pg_temp.as_request('user', 'req-user', $$insert into public.pgtap_items (id) values (20)$$);
select is((select jsonb_build_object('writer', writer, 'writer_sub', writer_sub, 'writer_kid', writer_kid) from federation.write_audit where request_id = 'req-user'),
  '{"writer":"authenticated","writer_sub":"8d0fd2b3-9ca1-4a58-8b0c-000000000001","writer_kid":null}'::jsonb,
  'an Auth user with writer-looking claims is recorded as authenticated with its user id, never as the writer');
select pg_temp.as_request('orders', 'inventory-service', $$insert into public.pgtap_items (id) values (21)$$);
select is((select writer from federation.write_audit where request_id = 'inventory-service'), 'orders-service',
  'a request id naming another writer is recorded as given and changes no identity');
select pg_temp.as_request('workload', 'req-workload', $$insert into public.pgtap_items (id) values (24)$$);
select is((select jsonb_build_object('writer', writer, 'writer_sub', writer_sub, 'writer_kid', writer_kid) from federation.write_audit where request_id = 'req-workload'),
  '{"writer":"deploy-bot","writer_sub":"repo:acme/app:ref:refs/heads/main","writer_kid":"policy:6f1c2d3e-0000-4000-8000-000000000001"}'::jsonb,
  'a trust-policy writer is recorded with its policy as policy:<id>');
select pg_temp.as_request('service', 'req-service', $$insert into public.pgtap_items (id) values (22)$$);
select is((select writer from federation.write_audit where request_id = 'req-service'), 'service_role', 'service_role writes are recorded as service_role');
insert into public.pgtap_items (id) values (23);
select is((select writer || '|' || coalesce(request_id, '-') from federation.write_audit where table_name = 'public.pgtap_items' and pk = '{"id":23}'),
  session_user || '|-', 'a write from SQL (no request) is recorded under the session''s role');
select is(pg_temp.attempt('orders', $$insert into federation.write_audit (table_name, op, pk, writer) values ('public.orders', 'INSERT', '{}', 'inventory-service')$$),
  '42501', 'a writer cannot insert an audit row');
select is(pg_temp.attempt('service', $$insert into federation.write_audit (table_name, op, pk, writer) values ('public.orders', 'INSERT', '{}', 'x')$$),
  '42501', 'service_role cannot insert an audit row');
select is(pg_temp.attempt('orders', $$select federation.disable_write_audit('public.pgtap_items')$$), '42501', 'a writer cannot switch the audit off');
select is(pg_temp.attempt('service', $$select federation.disable_write_audit('public.pgtap_items')$$), '42501', 'service_role cannot switch the audit off');
select is(pg_temp.attempt('orders', $$select federation.enable_write_audit('public.pgtap_items', true)$$), '42501', 'a writer cannot turn values on');

-- Reading ------------------------------------------------------------------------------------------------
select is(pg_temp.attempt('orders', $$select * from federation.write_audit$$), '42501', 'a writer cannot read the audit');
select is(pg_temp.attempt('anon', $$select * from federation.write_audit$$), '42501', 'anon cannot read the audit');
select is(pg_temp.attempt('user', $$select * from federation.write_audit$$), '42501', 'an Auth user cannot read the audit');
select is(pg_temp.attempt('orders', $$select * from public.write_audit_rows()$$), '42501', 'a writer cannot call write_audit_rows');
select is(pg_temp.attempt('anon', $$select * from public.write_audit_rows()$$), '42501', 'anon cannot call write_audit_rows');
select is(pg_temp.attempt('user', $$select * from public.write_audit_rows()$$), '42501', 'an Auth user cannot call write_audit_rows');
select is(pg_temp.attempt('service', $$select * from public.write_audit_rows(p_writer => 'orders-service', p_table => 'pgtap_items')$$), 'rows:12',
  'service_role reads through write_audit_rows (by writer and table)');
select is((select string_agg(op, ',') from public.write_audit_rows(p_request_id => 'req-update-1')), 'UPDATE', 'write_audit_rows by request id');
select is((select count(*)::int from public.write_audit_rows(p_table => 'public.pgtap_items', p_since => now() + interval '1 minute')), 0,
  'write_audit_rows since a time');
select throws_ok($$select * from public.write_audit_rows(p_limit => 0)$$, '22023', null, 'a limit out of range is refused');

-- Erasing ------------------------------------------------------------------------------------------------
select is(pg_temp.attempt('service', $$delete from federation.write_audit$$), '42501', 'service_role cannot delete audit rows');
select is(pg_temp.attempt('service', $$update federation.write_audit set writer = 'x'$$), '42501', 'service_role cannot change audit rows');
select is(pg_temp.attempt('orders', $$delete from federation.write_audit$$), '42501', 'a writer cannot delete audit rows');
select throws_ok($$update federation.write_audit set writer = 'someone-else'$$, '42501', 'federation.write_audit is append-only', 'the owner cannot change audit rows');
select throws_ok($$delete from federation.write_audit$$, '42501', 'federation.write_audit is append-only', 'the owner cannot delete audit rows');
select throws_ok($$truncate federation.write_audit$$, '42501', 'federation.write_audit is append-only', 'the owner cannot truncate the audit');
select throws_ok($$select federation.purge_write_audit(interval '5 minutes')$$, '22023', null, 'purge keeps at least the last hour');
insert into federation.write_audit (at, table_name, op, pk, writer) values
  (now() - interval '40 days', 'public.pgtap_items', 'INSERT', '{"id":900}', 'old-writer'),
  (now() - interval '31 days', 'public.pgtap_items', 'INSERT', '{"id":901}', 'old-writer');
select is(federation.purge_write_audit(interval '30 days'), 2::bigint, 'purge removes the rows older than asked');
select is((select count(*)::int from federation.write_audit where request_id = 'req-insert-1'), 1, 'and keeps the newer ones');
select throws_ok($$delete from federation.write_audit$$, '42501', null, 'after a purge the table is append-only again');

-- Bad input ----------------------------------------------------------------------------------------------
create table public.pgtap_no_key (note text);
select throws_ok($$select federation.enable_write_audit('public.pgtap_no_key')$$, '55000', 'cannot audit public.pgtap_no_key: it has no primary key',
  'a table without a primary key is refused, with the reason');
create view public.pgtap_view as select * from public.pgtap_items;
select throws_ok($$select federation.enable_write_audit('public.pgtap_view')$$, '42809', null, 'a view is refused');
-- A failing audit insert fails the write: no row without its audit.
alter table federation.write_audit add constraint pgtap_refuse check (pk <> '{"id":30}') not valid;
select throws_ok($$select pg_temp.as_request('orders', 'req-fail', 'insert into public.pgtap_items (id) values (30)')$$, '23514', null,
  'a failing audit insert fails the write');
select is((select count(*)::int from public.pgtap_items where id = 30), 0, 'and the row was not written');
alter table federation.write_audit drop constraint pgtap_refuse;

-- Composite keys and the examples ------------------------------------------------------------------------
create table public.pgtap_pair (a text, b integer, v text, primary key (b, a));
grant insert on public.pgtap_pair to federated_writer;
select federation.enable_write_audit('public.pgtap_pair');
select pg_temp.as_request('orders', 'req-pair', $$insert into public.pgtap_pair values ('x', 7, 'v')$$);
select is((select pk from federation.write_audit where request_id = 'req-pair'), '{"a":"x","b":7}'::jsonb, 'a composite key is recorded whole');
select federation.disable_write_audit('public.pgtap_pair');
select pg_temp.as_request('orders', 'req-pair-off', $$insert into public.pgtap_pair values ('y', 8, 'v')$$);
select is((select count(*)::int from federation.write_audit where request_id = 'req-pair-off'), 0, 'disable_write_audit stops the audit');
select is((select array_agg(c.relname::text order by c.relname) from pg_trigger t join pg_class c on c.oid = t.tgrelid
           where t.tgname = 'write_audit' and c.relnamespace = 'public'::regnamespace and c.relname in ('orders', 'stock_levels')),
  '{orders,stock_levels}', 'the examples'' orders and stock_levels are audited');

select * from finish();
rollback;
