-- Rate limits that hold across function instances (docs/operations.md, "Rate limit").
--
-- Supabase runs as many instances of the rest function as load asks for. Each instance keeps its own token
-- bucket per writer (the first line, for bursts) and, about once a second while a rate-limited writer is
-- active, reports through public.record_rate_windows how many of that writer's requests it saw and admitted
-- in each second. The answer is the project-wide count of the writer's requests over 10 recent seconds and
-- this instance's part of it; the instance then admits its part of the writer's limit until its next report
-- (its own traffic plus an even part of what is unused while the writer is under its limit, else its
-- proportion of the limit).
-- Written by the function only (service key); nobody reads the table directly. Safe to apply twice.

create table if not exists federation.rate_windows (
  issuer text not null check (length(issuer) between 1 and 63),
  -- A random id each function instance draws when it starts.
  instance uuid not null,
  -- The second the requests arrived in (the instance's clock, whole seconds).
  second timestamptz not null check (date_trunc('second', second) = second),
  -- Requests that reached the limit (the token verified), and those of them the instance let through.
  seen integer not null default 0 check (seen >= 0),
  admitted integer not null default 0 check (admitted >= 0 and admitted <= seen),
  primary key (issuer, second, instance)
);
create index if not exists rate_windows_second_idx on federation.rate_windows (second);
comment on table federation.rate_windows is
  'Requests per (writer, second, function instance) of rate-limited writers, shared so that a limit holds for the project (kept 30 s).';
-- Like federation.jti_replay: outside the Data API's schemas, no privilege for any API role.
revoke all on table federation.rate_windows from anon, authenticated, service_role, public;

-- Adds one instance's counts, [{issuer, second, seen, admitted}, …] (at most 1000 rows; rows outside the
-- last minute are ignored), prunes rows older than 30 s, and answers, for each writer in the batch,
-- {"seen": project-wide requests in 10 whole seconds (the 10 before the last two), "mine": this instance's
-- part, "admitted": project-wide admitted, "instances": how many instances saw the writer in them}. Security definer so that service_role needs no grant on the table.
create or replace function public.record_rate_windows(p_instance uuid, p_counts jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  result jsonb;
begin
  if p_instance is null or jsonb_typeof(p_counts) is distinct from 'array' or jsonb_array_length(p_counts) > 1000 then
    raise exception 'p_counts must be an array of at most 1000 rows, p_instance a uuid' using errcode = '22023';
  end if;
  insert into federation.rate_windows as w (issuer, instance, second, seen, admitted)
  select r.issuer, p_instance, date_trunc('second', r.second), sum(r.seen), sum(least(r.admitted, r.seen))
  from jsonb_to_recordset(p_counts) as r(issuer text, second timestamptz, seen integer, admitted integer)
  where r.issuer is not null and length(r.issuer) between 1 and 63
    and r.second between now() - interval '1 minute' and now() + interval '1 minute'
    and r.seen >= 0 and r.admitted >= 0
  group by r.issuer, date_trunc('second', r.second)
  on conflict (issuer, second, instance) do update
    set seen = w.seen + excluded.seen,
        admitted = w.admitted + excluded.admitted;
  delete from federation.rate_windows where second < now() - interval '30 seconds';
  select coalesce(jsonb_object_agg(t.issuer, jsonb_build_object('seen', t.seen, 'mine', t.mine, 'admitted', t.admitted, 'instances', t.instances)), '{}'::jsonb)
  into result
  from (
    select w.issuer,
      sum(w.seen) as seen,
      coalesce(sum(w.seen) filter (where w.instance = p_instance), 0) as mine,
      sum(w.admitted) as admitted,
      count(distinct w.instance) as instances
    from federation.rate_windows w
    where w.issuer in (select distinct r.issuer from jsonb_to_recordset(p_counts) as r(issuer text))
      -- The 10 whole seconds before the last two: every instance has reported them by now (each reports about
      -- once a second), so this instance's part is not overstated by its own fresher counts.
      and w.second >= date_trunc('second', now()) - interval '12 seconds'
      and w.second < date_trunc('second', now()) - interval '2 seconds'
    group by w.issuer
  ) t;
  return result;
end
$$;
revoke execute on function public.record_rate_windows(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.record_rate_windows(uuid, jsonb) to service_role;

comment on column public.jwt_issuers.rate_limit_per_second is
  'Requests per second for the whole project (function instances share their counts through record_rate_windows); null = no limit.';
