-- Every foreign key gets a covering index (Supabase's Performance Advisor: "unindexed foreign keys").
create index if not exists orders_sku_idx on public.orders (sku);
