-- Example: the orders and stock_levels tables two writers share are audited (key and changed column names,
-- no values): `fedjwt audit --table orders` shows which writer wrote which order, in which request.
select federation.enable_write_audit('public.orders');
select federation.enable_write_audit('public.stock_levels');
