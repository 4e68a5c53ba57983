-- Example 3: a table owned by Supabase Auth users, with Supabase's canonical policies — the kind of table a
-- project already has before it adds federated writers. Writers must never reach it:
--   * `to authenticated` policies do not apply to writer roles (they are not members of authenticated);
--   * the policy with no `to` clause applies to every role, writers included, but calls auth.uid(), which
--     a writer role may not use (42501 on hosted Supabase, and in the local bootstrap);
--   * Supabase's default privileges grant the table to anon/authenticated/service_role only, so writer
--     roles hold no privilege on it in the first place.
-- Writers' subjects are UUIDv5s derived from (issuer, sub), so no writer can sign an Auth user's id.

create table if not exists public.user_notes (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid(),
  body text not null check (length(body) between 1 and 2000),
  created_at timestamptz not null default now()
);
create index if not exists user_notes_user_id_idx on public.user_notes (user_id);

alter table public.user_notes enable row level security;

-- As Supabase's docs write them: one policy for authenticated users only …
drop policy if exists "Individuals can view their own notes." on public.user_notes;
create policy "Individuals can view their own notes." on public.user_notes
  for select to authenticated
  using ((select auth.uid()) = user_id);

-- … and one with no `to` clause (it applies to every role).
drop policy if exists "Individuals can create notes." on public.user_notes;
create policy "Individuals can create notes." on public.user_notes
  for insert
  with check ((select auth.uid()) = user_id);

drop policy if exists "Individuals can update their own notes." on public.user_notes;
create policy "Individuals can update their own notes." on public.user_notes
  for update
  using ((select auth.uid()) = user_id);

drop policy if exists "Individuals can delete their own notes." on public.user_notes;
create policy "Individuals can delete their own notes." on public.user_notes
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- Who the database thinks the caller is, as the federation.* helpers see it: handy when writing policies,
-- and how the end-to-end tests show that a Supabase Auth user's token fails every helper. Reveals nothing
-- but the caller's own claims.
create or replace function public.federation_whoami()
returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'db_role', current_user,
    'is_writer_request', federation.is_writer_request(),
    'issuer', federation.issuer(),
    'writer_sub', federation.writer_sub(),
    'writer_uid', federation.writer_uid(),
    'app_roles', case when federation.is_writer_request() then federation.claims() -> 'app_roles' end,
    'writer_claims', case when federation.is_writer_request() then federation.claims() -> 'writer_claims' end
  )
$$;
revoke execute on function public.federation_whoami() from public, anon;
grant execute on function public.federation_whoami() to authenticated, service_role, federated_writer;
