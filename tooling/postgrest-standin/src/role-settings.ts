// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. Impersonated role settings: PostgREST applies
// the settings a role was given with `ALTER ROLE … SET` (pg_db_role_setting: this database's first, then
// the all-databases ones) in each request's transaction after switching to it, as transaction-local
// settings. Like PostgREST, only settings a user may change (pg_settings context 'user') are applied.
// PostgREST reads them when it loads its config (a reload picks up changes); the stand-in reads them per
// request, which can only be fresher.

/**
 * A scalar subquery that applies the role named by parameter `$<param>` its own settings (ALTER ROLE … SET) in
 * the current transaction, as PostgREST does, and yields how many: put first in the request's one set_config
 * statement, so it costs no round trip of its own and runs before the request's settings.
 */
export function roleSettingsSql(param: number): string {
  return `(select count(applied.v) from (
    select set_config(s.name, s.value, true)
    from (
      select distinct on (split_part(c.cfg, '=', 1))
        split_part(c.cfg, '=', 1) as name,
        substr(c.cfg, strpos(c.cfg, '=') + 1) as value
      from pg_catalog.pg_db_role_setting d
      join pg_catalog.pg_roles r on r.oid = d.setrole
      cross join lateral unnest(d.setconfig) as c(cfg)
      where r.rolname = $${param}
        and d.setdatabase in (0, (select oid from pg_catalog.pg_database where datname = current_database()))
      order by split_part(c.cfg, '=', 1), d.setdatabase desc
    ) s
    join pg_catalog.pg_settings p on p.name = s.name and p.context = 'user'
  ) applied(v))`;
}
