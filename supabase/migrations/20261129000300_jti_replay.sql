-- One-time token ids for issuers with require_jti. The gateway calls public.consume_jwt_id() through
-- PostgREST with the service_role key; the first call for an (issuer, jti) wins, every later one loses.

create table if not exists federation.jti_replay (
  issuer text not null,
  jti text not null check (length(jti) between 1 and 200),
  expires_at timestamptz not null,
  primary key (issuer, jti)
);
create index if not exists jti_replay_expires_at_idx on federation.jti_replay (expires_at);
revoke all on table federation.jti_replay from public, anon, authenticated, service_role;

-- Deletes ids whose tokens have expired (they can no longer be replayed). Returns how many went.
-- Called now and then by consume_jwt_id; schedule it with pg_cron on busy projects.
create or replace function federation.purge_expired_jtis()
returns integer
language sql
security definer
set search_path = ''
as $$
  with gone as (
    delete from federation.jti_replay where expires_at < now() - interval '5 minutes' returning 1
  )
  select count(*)::integer from gone
$$;
revoke execute on function federation.purge_expired_jtis() from public, anon, authenticated;
grant execute on function federation.purge_expired_jtis() to service_role;

-- Records (issuer, jti) until expires_at. True the first time, false on a replay.
create or replace function public.consume_jwt_id(p_issuer text, p_jti text, p_expires_at timestamptz)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  inserted integer;
begin
  insert into federation.jti_replay (issuer, jti, expires_at)
  values (p_issuer, p_jti, p_expires_at)
  on conflict do nothing;
  get diagnostics inserted = row_count;
  if random() < 0.01 then
    perform federation.purge_expired_jtis();
  end if;
  return inserted = 1;
end
$$;
revoke execute on function public.consume_jwt_id(text, text, timestamptz) from public, anon, authenticated;
grant execute on function public.consume_jwt_id(text, text, timestamptz) to service_role;
