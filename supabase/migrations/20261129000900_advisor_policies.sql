-- The dashboard's Security and Performance Advisors on this project's schema.
--
-- The registry tables keep RLS on with no policy for anon or authenticated: nobody but service_role may
-- read or change them, and service_role bypasses RLS. These policies change no access; they state that
-- intent where the Advisor looks (its "RLS enabled, no policy" notice).
create policy "service_role manages issuers" on public.jwt_issuers
  for all to service_role using (true) with check (true);
create policy "service_role manages keys" on public.jwt_public_keys
  for all to service_role using (true) with check (true);
-- The audit trail is append-only (its trigger refuses updates and deletes); service_role reads it.
create policy "service_role reads the audit trail" on public.jwt_registry_audit
  for select to service_role using (true);

