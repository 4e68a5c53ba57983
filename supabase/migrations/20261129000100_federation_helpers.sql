-- Claim helpers for RLS policies, in their own schema.
--
-- Why not `auth`: since 2025-04-21 Supabase refuses user-created objects in the auth, storage and realtime
-- schemas (hosted, and locally: "permission denied for schema auth"). Supabase's RLS guide puts helper
-- functions in a separate schema that the Data API does not expose; `federation` is that schema. Policies
-- call the helpers schema-qualified (federation.issuer()), so nothing needs it on a search_path.
--
-- Trust rule: the claims below are only believed when `iss` is a registered-issuer-shaped name
-- (^[a-z0-9][a-z0-9._-]{0,62}$). Only the `rest` gateway mints such tokens; Supabase Auth and every
-- third-party IdP use URL issuers (https://…), so their tokens can never pass as a federated writer even
-- if they carry an `app_roles` claim.

create schema if not exists federation;
comment on schema federation is 'Federated writer helpers for RLS policies (not exposed through the Data API).';
grant usage on schema federation to anon, authenticated, service_role;

-- The request's JWT claims as PostgREST set them, or {} when there are none.
create or replace function federation.claims()
returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

-- The writer's issuer name, or null when the token is not a federated writer token.
create or replace function federation.issuer()
returns text
language sql stable
set search_path = ''
as $$
  select iss
  from (select federation.claims() ->> 'iss' as iss) c
  where iss ~ '^[a-z0-9][a-z0-9._-]{0,62}$'
$$;

-- True when the request comes from the named writer.
create or replace function federation.is_issuer(name text)
returns boolean
language sql stable
set search_path = ''
as $$
  select coalesce(federation.issuer() = name, false)
$$;

-- True when the gateway granted the writer this application role (claim app_roles, checked against the
-- registry's allowed_roles before it was signed).
create or replace function federation.has_role(role_name text)
returns boolean
language sql stable
set search_path = ''
as $$
  select federation.issuer() is not null
    and jsonb_typeof(federation.claims() -> 'app_roles') = 'array'
    and (federation.claims() -> 'app_roles') ? role_name
$$;

-- One claim as text (null when absent). Only meaningful for federated writers: check issuer() too.
create or replace function federation.claim(name text)
returns text
language sql stable
set search_path = ''
as $$
  select federation.claims() ->> name
$$;

-- The writer's own subject: `writer_sub` when the gateway mapped a non-UUID sub to a UUIDv5, else `sub`.
create or replace function federation.writer_sub()
returns text
language sql stable
set search_path = ''
as $$
  select case
    when federation.issuer() is null then null
    else coalesce(federation.claims() ->> 'writer_sub', federation.claims() ->> 'sub')
  end
$$;

grant execute on function
  federation.claims(),
  federation.issuer(),
  federation.is_issuer(text),
  federation.has_role(text),
  federation.claim(text),
  federation.writer_sub()
to anon, authenticated, service_role;
