-- The `auth` schema's tables for the Docker-free local database.
--
-- Written for this project from Supabase's documentation of the auth schema (the table and column names
-- and types a hosted project shows for auth.users, auth.identities, auth.sessions, …). It is NOT Supabase
-- Auth and not its migrations: no Auth server runs against it, nothing here signs anyone in. It gives
-- user migrations the shape they expect on every Supabase project — foreign keys to auth.users(id),
-- triggers on insert into auth.users, joins on identities or sessions — so they apply locally as they do
-- on a hosted project.
--
-- Applied by src/auth-schema.ts after supabase-bootstrap.sql, as supabase_auth_admin (the owner of the
-- schema and of every table here, as on Supabase). Idempotent: a second run changes nothing.

-- Enumerated types -------------------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_type where typnamespace = 'auth'::regnamespace and typname = 'aal_level') then
    create type auth.aal_level as enum ('aal1', 'aal2', 'aal3');
  end if;
  if not exists (select 1 from pg_type where typnamespace = 'auth'::regnamespace and typname = 'factor_type') then
    create type auth.factor_type as enum ('totp', 'webauthn', 'phone');
  end if;
  if not exists (select 1 from pg_type where typnamespace = 'auth'::regnamespace and typname = 'factor_status') then
    create type auth.factor_status as enum ('unverified', 'verified');
  end if;
  if not exists (select 1 from pg_type where typnamespace = 'auth'::regnamespace and typname = 'one_time_token_type') then
    create type auth.one_time_token_type as enum (
      'confirmation_token', 'reauthentication_token', 'recovery_token',
      'email_change_token_new', 'email_change_token_current', 'phone_change_token'
    );
  end if;
end
$$;

-- Bookkeeping ------------------------------------------------------------------------------------------
-- Supabase Auth records its own migration versions here; locally it stays empty (no Auth server runs).
create table if not exists auth.schema_migrations (
  version varchar(255) not null primary key
);
comment on table auth.schema_migrations is 'Local stand-in (fedjwt): migration versions Supabase Auth would record; empty here.';

create table if not exists auth.instances (
  id uuid not null primary key,
  uuid uuid,
  raw_base_config text,
  created_at timestamptz,
  updated_at timestamptz
);
comment on table auth.instances is 'Local stand-in (fedjwt): Auth instances; unused locally.';

-- Users ------------------------------------------------------------------------------------------------
create table if not exists auth.users (
  instance_id uuid,
  id uuid not null primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  phone_change text default '',
  phone_change_token varchar(255) default '',
  phone_change_sent_at timestamptz,
  -- The earlier of the two confirmations, kept by Postgres itself.
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  email_change_token_current varchar(255) default '',
  email_change_confirm_status smallint default 0 check (email_change_confirm_status between 0 and 2),
  banned_until timestamptz,
  reauthentication_token varchar(255) default '',
  reauthentication_sent_at timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);
comment on table auth.users is 'Local stand-in (fedjwt): one row per user account, for user migrations to reference.';
comment on column auth.users.is_sso_user is 'Local stand-in (fedjwt): true for accounts signed in through SSO, which may share an email address.';
-- One account per email address, except accounts that come from SSO.
create unique index if not exists users_email_partial_key on auth.users (email) where is_sso_user = false;
create index if not exists users_instance_id_idx on auth.users (instance_id);
create index if not exists users_is_anonymous_idx on auth.users (is_anonymous);

-- Identities: one per sign-in method (email, phone, each OAuth provider) of a user.
create table if not exists auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid not null default gen_random_uuid() primary key,
  constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
comment on table auth.identities is 'Local stand-in (fedjwt): the sign-in methods of each user.';
create index if not exists identities_user_id_idx on auth.identities (user_id);
create index if not exists identities_email_idx on auth.identities (email text_pattern_ops);

-- Sessions and their refresh tokens --------------------------------------------------------------------
create table if not exists auth.sessions (
  id uuid not null primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz,
  updated_at timestamptz,
  factor_id uuid,
  aal auth.aal_level,
  not_after timestamptz,
  refreshed_at timestamp,
  user_agent text,
  ip inet,
  tag text
);
comment on table auth.sessions is 'Local stand-in (fedjwt): users'' sessions.';
create index if not exists sessions_user_id_idx on auth.sessions (user_id);
create index if not exists sessions_not_after_idx on auth.sessions (not_after desc);

create table if not exists auth.refresh_tokens (
  instance_id uuid,
  id bigserial primary key,
  token varchar(255) unique,
  user_id varchar(255),
  revoked boolean,
  created_at timestamptz,
  updated_at timestamptz,
  parent varchar(255),
  session_id uuid references auth.sessions (id) on delete cascade
);
comment on table auth.refresh_tokens is 'Local stand-in (fedjwt): refresh tokens of sessions.';
create index if not exists refresh_tokens_instance_id_user_id_idx on auth.refresh_tokens (instance_id, user_id);
create index if not exists refresh_tokens_parent_idx on auth.refresh_tokens (parent);
create index if not exists refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);

-- Multi-factor authentication --------------------------------------------------------------------------
create table if not exists auth.mfa_factors (
  id uuid not null primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  friendly_name text,
  factor_type auth.factor_type not null,
  status auth.factor_status not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  secret text,
  phone text,
  last_challenged_at timestamptz unique
);
comment on table auth.mfa_factors is 'Local stand-in (fedjwt): users'' second factors.';
create index if not exists mfa_factors_user_id_idx on auth.mfa_factors (user_id);

create table if not exists auth.mfa_challenges (
  id uuid not null primary key,
  factor_id uuid not null references auth.mfa_factors (id) on delete cascade,
  created_at timestamptz not null,
  verified_at timestamptz,
  ip_address inet not null,
  otp_code text
);
comment on table auth.mfa_challenges is 'Local stand-in (fedjwt): challenges issued for second factors.';
create index if not exists mfa_challenges_factor_id_idx on auth.mfa_challenges (factor_id);

create table if not exists auth.mfa_amr_claims (
  id uuid not null primary key,
  session_id uuid not null references auth.sessions (id) on delete cascade,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  authentication_method text not null,
  constraint mfa_amr_claims_session_id_authentication_method_pkey unique (session_id, authentication_method)
);
comment on table auth.mfa_amr_claims is 'Local stand-in (fedjwt): how each session was authenticated (amr claims).';

-- One-time tokens (confirmation, recovery, email and phone change) --------------------------------------
create table if not exists auth.one_time_tokens (
  id uuid not null primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  token_type auth.one_time_token_type not null,
  token_hash text not null check (char_length(token_hash) > 0),
  relates_to text not null,
  created_at timestamp not null default now(),
  updated_at timestamp not null default now()
);
create unique index if not exists one_time_tokens_user_id_token_type_key on auth.one_time_tokens (user_id, token_type);
create index if not exists one_time_tokens_token_hash_hash_idx on auth.one_time_tokens using hash (token_hash);

-- Audit trail ------------------------------------------------------------------------------------------
create table if not exists auth.audit_log_entries (
  instance_id uuid,
  id uuid not null primary key,
  payload json,
  created_at timestamptz,
  ip_address varchar(64) not null default ''
);
comment on table auth.audit_log_entries is 'Local stand-in (fedjwt): Auth''s audit trail; nothing writes it locally.';
create index if not exists audit_logs_instance_id_idx on auth.audit_log_entries (instance_id);

-- Access -----------------------------------------------------------------------------------------------
-- Row level security is on for every auth table, as on Supabase: the API roles get no rows from them
-- even where a privilege is granted by mistake. The API roles are granted nothing here (the auth schema
-- is not exposed); postgres, the role user migrations run as, may read them, reference them and put
-- triggers on them, as on a hosted project.
do $$
declare
  t record;
begin
  for t in select c.oid::regclass as rel from pg_class c where c.relnamespace = 'auth'::regnamespace and c.relkind = 'r' loop
    execute format('alter table %s enable row level security', t.rel);
  end loop;
end
$$;
grant all on all tables in schema auth to postgres;
grant all on all sequences in schema auth to postgres;
