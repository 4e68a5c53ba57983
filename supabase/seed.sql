-- Sample rows for the RLS examples. Never keys: writers are registered with `fedjwt register`.
insert into public.stock_levels (sku, quantity, location) values
  ('WIDGET-BLUE', 120, 'main'),
  ('WIDGET-RED', 40, 'main'),
  ('GADGET-1', 0, 'annex')
on conflict (sku) do nothing;

insert into public.widgets (name, owner_issuer) values
  ('seeded widget owned by widgets-service', 'widgets-service'),
  ('seeded widget owned by another-service', 'another-service');

insert into public.orders (sku, quantity, status, writer_issuer, writer_sub) values
  ('WIDGET-BLUE', 2, 'confirmed', 'orders-service', 'seed'),
  ('WIDGET-RED', 1, 'pending', 'another-service', 'seed');

-- Two Supabase Auth users' notes (ids as GoTrue would issue them). No writer may read or change them.
insert into public.user_notes (user_id, body) values
  ('8d0fd2b3-9ca1-4a58-8b0c-000000000001', 'note of auth user 1'),
  ('8d0fd2b3-9ca1-4a58-8b0c-000000000002', 'note of auth user 2');
