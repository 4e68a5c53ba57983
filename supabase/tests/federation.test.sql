-- pgTAP: the registry rules and the RLS matrix of the examples, as `supabase test db` runs them.
-- The same matrix runs in tooling/local-db/test/rls-matrix.test.ts (vitest); this file is its small twin for
-- Docker users, and tooling/local-db/test/pgtap.test.ts runs it on the Docker-free database too.
--
-- Principals: four writers as the gateway presents them (writer role federated_writer, or inventory_service
-- for the inventory writer; the gateway-only fedjwt_gateway claim), a Supabase Auth user (role authenticated, forged writer claims), and anon.
-- pg_temp.attempt(principal, statement) runs one statement the way PostgREST would for that principal
-- (SET ROLE + request.jwt.claims), always rolls it back, and returns 'rows:<n>' or the SQLSTATE.
begin;
create extension if not exists pgtap with schema extensions;
select plan(85);

create function pg_temp.attempt(principal text, stmt text) returns text
language plpgsql
as $$
declare
  claims jsonb := case principal
    when 'widgets' then '{"iss":"widgets-service","sub":"11111111-1111-4111-8111-111111111111","writer_sub":"widgets-worker","fedjwt_gateway":1,"app_roles":["widgets_writer"]}'
    when 'orders' then '{"iss":"orders-service","sub":"22222222-2222-4222-8222-222222222222","writer_sub":"orders-worker","fedjwt_gateway":1,"app_roles":["orders_writer","stock_reader"]}'
    when 'inventory' then '{"iss":"inventory-service","sub":"33333333-3333-4333-8333-333333333333","writer_sub":"inventory-worker","fedjwt_gateway":1,"app_roles":["inventory_writer","orders_reader"]}'
    when 'plain' then '{"iss":"plain-service","sub":"44444444-4444-4444-8444-444444444444","writer_sub":"plain-worker","fedjwt_gateway":1,"app_roles":[]}'
    when 'user' then '{"iss":"http://127.0.0.1:54321/auth/v1","sub":"8d0fd2b3-9ca1-4a58-8b0c-000000000001","aud":"authenticated","app_roles":["orders_writer"],"fedjwt_gateway":1}'
    when 'anon' then '{}'
  end;
  -- Writers run as the writer role federated_writer; a Supabase Auth user as authenticated.
  db_role text := case principal when 'anon' then 'anon' when 'user' then 'authenticated' when 'inventory' then 'inventory_service' else 'federated_writer' end;
  n bigint;
  outcome text;
begin
  if claims is null then
    raise exception 'unknown principal %', principal;
  end if;
  perform set_config('request.jwt.claims', (claims || jsonb_build_object('role', db_role))::text, true);
  perform set_config('role', db_role, true);
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

-- Registry -------------------------------------------------------------------------------------------
select is(pg_temp.attempt('anon', 'select * from public.jwt_issuers'), '42501', 'anon cannot read jwt_issuers');
select is(pg_temp.attempt('orders', 'select * from public.jwt_public_keys'), '42501', 'a writer cannot read jwt_public_keys');
select is(pg_temp.attempt('orders', 'select * from public.jwt_registry'), '42501', 'a writer cannot read jwt_registry');
select is(pg_temp.attempt('orders', $$insert into public.jwt_issuers (issuer) values ('sneaky')$$), '42501', 'a writer cannot register an issuer');
select is(pg_temp.attempt('orders', $$update public.jwt_issuers set db_role = 'service_role'$$), '42501', 'a writer cannot change a policy');
select is(pg_temp.attempt('orders', $$select public.consume_jwt_id('a', 'b', now())$$), '42501', 'a writer cannot consume jtis');

select throws_ok($$insert into public.jwt_issuers (issuer, db_role) values ('t-service-role', 'service_role')$$, '23514', null, 'db_role service_role is refused');
select throws_ok($$insert into public.jwt_issuers (issuer, db_role) values ('t-postgres', 'postgres')$$, '23514', null, 'db_role postgres is refused');
select throws_ok($$insert into public.jwt_issuers (issuer, db_role) values ('t-admin', 'supabase_admin')$$, '23514', null, 'db_role supabase_admin is refused');
select throws_ok($$insert into public.jwt_issuers (issuer, db_role) values ('t-authenticator', 'authenticator')$$, '23514', null, 'db_role authenticator is refused');
select throws_ok($$insert into public.jwt_issuers (issuer, db_role) values ('t-auth-admin', 'supabase_auth_admin')$$, '23514', null, 'db_role supabase_auth_admin is refused');
select throws_ok($$insert into public.jwt_issuers (issuer, db_role) values ('t-authenticated', 'authenticated')$$, '23514', null, 'db_role authenticated (Auth users'' role) is refused');
select throws_ok($$insert into public.jwt_issuers (issuer, db_role) values ('t-anon', 'anon')$$, '23514', null, 'db_role anon is refused');
select throws_ok($$insert into public.jwt_issuers (issuer) values ('supabase-demo')$$, '23514', null, 'a platform issuer name is refused');
create role pgtap_bypass nologin bypassrls;
grant federated_writer to pgtap_bypass;
select throws_ok($$insert into public.jwt_issuers (issuer, db_role) values ('t-bypass', 'pgtap_bypass')$$, '23514', null, 'a BYPASSRLS db_role is refused');

insert into public.jwt_issuers (issuer) values ('pgtap-svc');
insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem)
values ('pgtap-svc', 'k1', 'ES256', '-----BEGIN PUBLIC KEY-----x');
select throws_ok($$insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem) values ('pgtap-svc', 'k1', 'ES256', '-----BEGIN PUBLIC KEY-----y')$$, '23505', null, 'unique (issuer, kid)');
select throws_ok($$insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem, expires_at) values ('pgtap-svc', 'k9', 'ES256', '-----BEGIN PUBLIC KEY-----w', 'infinity')$$, '23514', null, 'an infinite key window is refused');
select throws_ok($$insert into public.jwt_public_keys (issuer, kid, alg) values ('pgtap-svc', 'k2', 'ES256')$$, '23514', null, 'a key row needs a key source');
select throws_ok($$insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem, jwks_uri) values ('pgtap-svc', 'k3', 'ES256', '-----BEGIN PUBLIC KEY-----z', 'https://a.example/jwks')$$, '23514', null, 'a key row has one key source only');
select is((select count(*)::int from public.jwt_registry_audit where coalesce(new_row, old_row) ->> 'issuer' = 'pgtap-svc'), 2, 'registry inserts are audited');
select throws_ok($$delete from public.jwt_registry_audit$$, '42501', null, 'the audit table is append-only');

-- Trust policies (workload identity) ------------------------------------------------------------------
select is(pg_temp.attempt('orders', 'select * from public.jwt_trust_policies'), '42501', 'a writer cannot read trust policies');
select is(pg_temp.attempt('anon', 'select * from public.jwt_url_issuers'), '42501', 'anon cannot read URL issuers');
select is(pg_temp.attempt('orders', $$select public.trust_policies_for('https://token.actions.githubusercontent.com')$$), '42501', 'a writer cannot read the gateway''s trust read model');
select throws_ok($$insert into public.jwt_url_issuers (issuer_url, algs) values ('http://issuer.example', '{RS256}')$$, '23514', null, 'a plain-http issuer off loopback is refused');
select throws_ok($$insert into public.jwt_url_issuers (issuer_url, algs) values ('https://login.microsoftonline.com/common/v2.0', '{RS256}')$$, '23514', null, 'Entra''s common issuer is refused');
select throws_ok($$insert into public.jwt_url_issuers (issuer_url, algs, max_lifetime_seconds) values ('https://long.example', '{RS256}', 5401)$$, '23514', null, 'a lifetime over 5400 s is refused');
insert into public.jwt_url_issuers (issuer_url, algs) values ('https://token.actions.githubusercontent.com', '{RS256}');
select throws_ok($$insert into public.jwt_trust_policies (writer, issuer_url, provider, conditions) values ('pgtap-svc', 'https://token.actions.githubusercontent.com', 'github-actions', '{"repository_owner_id": "74"}')$$, '23514', 'trust policy refused: missing_pin: github-actions policies must pin repository_owner_id + repository_id', 'a GitHub policy without repository_id is refused');
select throws_ok($$insert into public.jwt_trust_policies (writer, issuer_url, provider, conditions) values ('pgtap-svc', 'https://token.actions.githubusercontent.com', 'github-actions', '{"repository_owner_id": "74", "repository_id": "1", "repository": "octo-org/octo-repo"}')$$, '23514', null, 'a renamable repository name is refused as a condition');
select throws_ok($$insert into public.jwt_trust_policies (writer, issuer_url, provider, conditions) values ('pgtap-svc', 'https://token.actions.githubusercontent.com', 'github-actions', '{"repository_owner_id": "74", "repository_id": "*"}')$$, '23514', null, 'a wildcard on an ID claim is refused');
insert into public.jwt_trust_policies (writer, issuer_url, provider, conditions)
values ('pgtap-svc', 'https://token.actions.githubusercontent.com', 'github-actions', '{"repository_owner_id": "74", "repository_id": "1296269"}');
select is(public.trust_policies_for('https://token.actions.githubusercontent.com') #>> '{policies,0,writer_policy,db_role}', 'federated_writer', 'trust_policies_for gives the writer''s db_role');
select is((select count(*)::int from public.jwt_registry_audit where table_name in ('jwt_url_issuers', 'jwt_trust_policies')), 2, 'URL issuer and trust policy inserts are audited');

-- RLS matrix -----------------------------------------------------------------------------------------
-- widgets: insert needs widgets_writer and owner = caller; the rest, own rows only.
select is(pg_temp.attempt('widgets', $$insert into public.widgets (name) values ('w')$$), 'rows:1', 'widgets: widgets writer inserts');
select is(pg_temp.attempt('widgets', $$with w as (insert into public.widgets (name) values ('w') returning owner_issuer, created_by) select 1 from w where owner_issuer = 'widgets-service' and created_by = '11111111-1111-4111-8111-111111111111'$$), 'rows:1', 'widgets: owner and auth.uid() filled from the token');
select is(pg_temp.attempt('widgets', $$insert into public.widgets (name, owner_issuer) values ('w', 'another-service')$$), '42501', 'widgets: cannot insert for another owner');
select is(pg_temp.attempt('orders', $$insert into public.widgets (name) values ('w')$$), '42501', 'widgets: orders writer cannot insert');
select is(pg_temp.attempt('inventory', $$insert into public.widgets (name) values ('w')$$), '42501', 'widgets: inventory writer cannot insert');
select is(pg_temp.attempt('plain', $$insert into public.widgets (name) values ('w')$$), '42501', 'widgets: a writer without app roles cannot insert');
select is(pg_temp.attempt('anon', $$insert into public.widgets (name) values ('w')$$), '42501', 'widgets: anon cannot insert');
select is(pg_temp.attempt('widgets', $$select * from public.widgets where owner_issuer = 'widgets-service'$$), 'rows:1', 'widgets: widgets writer reads its row');
select is(pg_temp.attempt('widgets', $$select * from public.widgets where owner_issuer <> 'widgets-service'$$), 'rows:0', 'widgets: widgets writer sees no other rows');
select is(pg_temp.attempt('orders', 'select * from public.widgets'), 'rows:0', 'widgets: orders writer reads nothing');
select is(pg_temp.attempt('inventory', 'select * from public.widgets'), 'rows:0', 'widgets: inventory writer reads nothing');
select is(pg_temp.attempt('plain', 'select * from public.widgets'), 'rows:0', 'widgets: a writer without app roles reads nothing');
select is(pg_temp.attempt('anon', 'select * from public.widgets'), '42501', 'widgets: anon cannot read');
select is(pg_temp.attempt('widgets', $$update public.widgets set name = 'x' where owner_issuer = 'widgets-service'$$), 'rows:1', 'widgets: widgets writer updates its row');
select is(pg_temp.attempt('widgets', $$update public.widgets set name = 'x' where owner_issuer = 'another-service'$$), 'rows:0', 'widgets: cannot update another issuer''s row');
select is(pg_temp.attempt('widgets', $$update public.widgets set owner_issuer = 'orders-service' where owner_issuer = 'widgets-service'$$), '42501', 'widgets: cannot hand a row to another issuer');
select is(pg_temp.attempt('orders', $$update public.widgets set name = 'x'$$), 'rows:0', 'widgets: orders writer updates nothing');
select is(pg_temp.attempt('anon', $$update public.widgets set name = 'x'$$), '42501', 'widgets: anon cannot update');
select is(pg_temp.attempt('widgets', $$delete from public.widgets where owner_issuer = 'widgets-service'$$), 'rows:1', 'widgets: widgets writer deletes its row');
select is(pg_temp.attempt('widgets', $$delete from public.widgets where owner_issuer = 'another-service'$$), 'rows:0', 'widgets: cannot delete another issuer''s row');
select is(pg_temp.attempt('plain', 'delete from public.widgets'), 'rows:0', 'widgets: a writer without app roles deletes nothing');
select is(pg_temp.attempt('anon', 'delete from public.widgets'), '42501', 'widgets: anon cannot delete');

-- orders: the orders writer inserts and updates its own; the inventory writer reads all; nobody deletes.
select is(pg_temp.attempt('orders', $$insert into public.orders (sku, quantity) values ('WIDGET-BLUE', 1)$$), 'rows:1', 'orders: orders writer inserts');
select is(pg_temp.attempt('inventory', $$insert into public.orders (sku, quantity) values ('WIDGET-BLUE', 1)$$), '42501', 'orders: inventory writer cannot insert');
select is(pg_temp.attempt('widgets', $$insert into public.orders (sku, quantity) values ('WIDGET-BLUE', 1)$$), '42501', 'orders: widgets writer cannot insert');
select is(pg_temp.attempt('anon', $$insert into public.orders (sku, quantity) values ('WIDGET-BLUE', 1)$$), '42501', 'orders: anon cannot insert');
select is(pg_temp.attempt('orders', 'select * from public.orders'), 'rows:1', 'orders: orders writer reads only its own order');
select is(pg_temp.attempt('inventory', 'select * from public.orders'), 'rows:2', 'orders: inventory writer reads every order');
select is(pg_temp.attempt('widgets', 'select * from public.orders'), 'rows:0', 'orders: widgets writer reads nothing');
select is(pg_temp.attempt('anon', 'select * from public.orders'), '42501', 'orders: anon cannot read');
select is(pg_temp.attempt('orders', $$update public.orders set status = 'shipped'$$), 'rows:1', 'orders: orders writer updates only its own order');
select is(pg_temp.attempt('inventory', $$update public.orders set status = 'shipped'$$), 'rows:0', 'orders: inventory writer updates nothing');
select is(pg_temp.attempt('orders', 'delete from public.orders'), '42501', 'orders: orders writer cannot delete');
select is(pg_temp.attempt('inventory', 'delete from public.orders'), '42501', 'orders: inventory writer cannot delete');
select is(pg_temp.attempt('anon', 'delete from public.orders'), '42501', 'orders: anon cannot delete');

-- stock_levels: read by both; only the inventory writer updates, and only quantity.
select is(pg_temp.attempt('inventory', 'select * from public.stock_levels'), 'rows:3', 'stock: inventory writer reads');
select is(pg_temp.attempt('orders', 'select * from public.stock_levels'), 'rows:3', 'stock: orders writer reads');
select is(pg_temp.attempt('widgets', 'select * from public.stock_levels'), 'rows:0', 'stock: widgets writer reads nothing');
select is(pg_temp.attempt('anon', 'select * from public.stock_levels'), '42501', 'stock: anon cannot read');
select is(pg_temp.attempt('inventory', $$update public.stock_levels set quantity = 5 where sku = 'WIDGET-RED'$$), 'rows:1', 'stock: inventory writer updates quantity');
select is(pg_temp.attempt('inventory', $$update public.stock_levels set location = 'x' where sku = 'WIDGET-RED'$$), '42501', 'stock: inventory writer cannot update another column');
select is(pg_temp.attempt('orders', $$update public.stock_levels set quantity = 5$$), '42501', 'stock: orders writer cannot update (its role has no column grant)');
select is(pg_temp.attempt('anon', $$update public.stock_levels set quantity = 5$$), '42501', 'stock: anon cannot update');
select is(pg_temp.attempt('inventory', $$insert into public.stock_levels (sku, quantity) values ('NEW', 1)$$), '42501', 'stock: inventory writer cannot insert');
select is(pg_temp.attempt('inventory', 'delete from public.stock_levels'), '42501', 'stock: inventory writer cannot delete');

-- user_notes: owned by Supabase Auth users (canonical policies). Writers hold no privilege on it.
select is(pg_temp.attempt('user', 'select * from public.user_notes'), 'rows:1', 'user_notes: the Auth user reads its own note');
select is(pg_temp.attempt('orders', 'select * from public.user_notes'), '42501', 'user_notes: a writer cannot read');
select is(pg_temp.attempt('orders', $$insert into public.user_notes (user_id, body) values ('8d0fd2b3-9ca1-4a58-8b0c-000000000001', 'x')$$), '42501', 'user_notes: a writer cannot insert as a user');
select is(pg_temp.attempt('plain', $$update public.user_notes set body = 'x'$$), '42501', 'user_notes: a writer cannot update');
select is(pg_temp.attempt('user', $$select 1 where federation.issuer() is null and not federation.has_role('orders_writer') and federation.writer_sub() is null$$), 'rows:1', 'an Auth user''s token fails every federation helper, forged claims included');
select is(pg_temp.attempt('user', $$insert into public.widgets (name) values ('w')$$), '42501', 'widgets: an Auth user cannot insert');
select is(pg_temp.attempt('user', 'select * from public.orders'), '42501', 'orders: an Auth user cannot read');

-- Forged claims: a URL issuer (Supabase Auth, third-party IdP) is never a federated writer.
select is(
  (select set_config('request.jwt.claims', '{"iss":"https://abc.supabase.co/auth/v1","app_roles":["widgets_writer"]}', true) is not null
     and not federation.has_role('widgets_writer')),
  true,
  'a URL issuer with app_roles gets no writer role'
);

select * from finish();
rollback;
