-- Example 2: an orders writer and an inventory writer share two tables with different rights.
--
--                 orders                              stock_levels
--   orders-svc    insert own, update own, read own    read
--   inventory-svc read all                            read, update quantity only (column grant)
--   nobody        delete (orders are cancelled)       insert / delete (service_role only)
--
-- App roles (granted per issuer in jwt_issuers.allowed_roles): orders_writer, stock_reader,
-- inventory_writer, orders_reader. Helpers are wrapped in (select …): evaluated once per statement.
--
-- Database roles: both writers run as writer roles, never as `authenticated`. orders-service uses the
-- default `federated_writer`; inventory-service is registered with its own role `inventory_service`
-- (`fedjwt register --db-role inventory_service`), a member of federated_writer: GRANTs decide which tables
-- and columns a role may touch at all, RLS decides which rows. Only inventory_service may change stock.

create table if not exists public.stock_levels (
  sku text primary key check (sku ~ '^[A-Z0-9-]{1,40}$'),
  quantity integer not null check (quantity >= 0),
  location text not null default 'main',
  updated_by text,
  updated_at timestamptz not null default now()
);

create table if not exists public.orders (
  id uuid primary key default gen_random_uuid(),
  sku text not null references public.stock_levels (sku),
  quantity integer not null check (quantity > 0),
  status text not null default 'pending' check (status in ('pending', 'confirmed', 'shipped', 'cancelled')),
  -- Who wrote it: filled from the token.
  writer_issuer text not null default federation.issuer(),
  writer_sub text default federation.writer_sub(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists orders_writer_issuer_idx on public.orders (writer_issuer);

-- Stamps who changed a stock level and when; runs whatever columns the writer may update.
create or replace function federation.stamp_stock_update()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_by := coalesce(federation.issuer(), current_user::text);
  new.updated_at := now();
  return new;
end
$$;
drop trigger if exists stamp on public.stock_levels;
create trigger stamp before update on public.stock_levels
  for each row execute function federation.stamp_stock_update();

create or replace function federation.touch_order()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;
drop trigger if exists touch on public.orders;
create trigger touch before update on public.orders
  for each row execute function federation.touch_order();

alter table public.orders enable row level security;
alter table public.stock_levels enable row level security;

select federation.create_writer_role('inventory_service');

revoke all on table public.orders, public.stock_levels from anon, authenticated;
revoke all on table public.orders from federated_writer;
grant select on table public.orders to federated_writer;
-- Writers write sku, quantity and status only: who wrote it (writer_issuer, writer_sub) and when come from
-- the defaults, so no writer can record another's issuer or subject. Column grants do that; RLS sees rows.
grant insert (sku, quantity, status), update (status) on table public.orders to federated_writer;
grant select on table public.stock_levels to federated_writer;
-- The column grant is the point: only inventory-service's role may update stock, and only `quantity`,
-- whatever a policy allows.
grant update (quantity) on table public.stock_levels to inventory_service;

-- orders ---------------------------------------------------------------------------------------------
drop policy if exists orders_select on public.orders;
create policy orders_select on public.orders
  for select to federated_writer
  using (
    ((select federation.has_role('orders_writer')) and writer_issuer = (select federation.issuer()))
    or (select federation.has_role('orders_reader'))
  );

drop policy if exists orders_insert on public.orders;
create policy orders_insert on public.orders
  for insert to federated_writer
  with check ((select federation.has_role('orders_writer')) and writer_issuer = (select federation.issuer()));

drop policy if exists orders_update on public.orders;
create policy orders_update on public.orders
  for update to federated_writer
  using ((select federation.has_role('orders_writer')) and writer_issuer = (select federation.issuer()))
  with check (writer_issuer = (select federation.issuer()));

-- stock_levels ---------------------------------------------------------------------------------------
drop policy if exists stock_select on public.stock_levels;
create policy stock_select on public.stock_levels
  for select to federated_writer
  using ((select federation.has_role('inventory_writer')) or (select federation.has_role('stock_reader')));

drop policy if exists stock_update on public.stock_levels;
create policy stock_update on public.stock_levels
  for update to federated_writer
  using ((select federation.has_role('inventory_writer')))
  with check ((select federation.has_role('inventory_writer')));
