-- Example 1: widgets — the upstream example done right.
--   insert: needs app role widgets_writer, and the row must name the caller as owner (the default does);
--   select / update / delete: the owner only, and only while it still holds widgets_writer;
--   ownership cannot be handed to another issuer (update's WITH CHECK).
-- The helpers are wrapped in (select …) so Postgres evaluates them once per statement, not once per row
-- (Supabase's RLS performance advice; they have a fixed search_path, so they are never inlined), and the
-- owner column is compared directly, so an index on it can be used.

create table if not exists public.widgets (
  id bigint generated always as identity primary key,
  name text not null check (length(name) between 1 and 200),
  -- Filled from the token; a writer that sends another issuer's name fails the insert policy.
  owner_issuer text not null default federation.issuer(),
  -- The writer's subject as a UUID (the gateway's UUIDv5 of issuer and sub). Not auth.uid(): writer roles
  -- cannot use the auth schema on hosted Supabase, and a writer is never an Auth user.
  created_by uuid default federation.writer_uid(),
  created_at timestamptz not null default now()
);

alter table public.widgets enable row level security;

-- No access for anon or Supabase Auth users; writers (federated_writer and its members) get exactly the
-- table privileges the policies need. Writers write `name` only: owner_issuer, created_by and created_at
-- come from their defaults (the token), so a writer can neither name another issuer nor set created_by to
-- someone else's id (an Auth user's, say). Column grants do that; RLS only sees whole rows.
revoke all on table public.widgets from anon, authenticated, federated_writer;
grant select, delete on table public.widgets to federated_writer;
grant insert (name), update (name) on table public.widgets to federated_writer;

drop policy if exists widgets_insert on public.widgets;
create policy widgets_insert on public.widgets
  for insert to federated_writer
  with check ((select federation.has_role('widgets_writer')) and owner_issuer = (select federation.issuer()));

drop policy if exists widgets_select on public.widgets;
create policy widgets_select on public.widgets
  for select to federated_writer
  using ((select federation.has_role('widgets_writer')) and owner_issuer = (select federation.issuer()));

drop policy if exists widgets_update on public.widgets;
create policy widgets_update on public.widgets
  for update to federated_writer
  using ((select federation.has_role('widgets_writer')) and owner_issuer = (select federation.issuer()))
  with check (owner_issuer = (select federation.issuer()));

drop policy if exists widgets_delete on public.widgets;
create policy widgets_delete on public.widgets
  for delete to federated_writer
  using ((select federation.has_role('widgets_writer')) and owner_issuer = (select federation.issuer()));
