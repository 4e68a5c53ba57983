// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. Impersonated role settings: PostgREST applies
// the settings a role was given with `ALTER ROLE … SET` (pg_db_role_setting: this database's first, then
// the all-databases ones) in each request's transaction after switching to it, as transaction-local
// settings. Like PostgREST, only settings a user may change (pg_settings context 'user') are applied.
// Like PostgREST, the stand-in loads them with its configuration: when it starts, and again on
// `NOTIFY pgrst, 'reload config'` (or a bare `NOTIFY pgrst`), heard on a LISTEN connection of its own; a
// setting changed without that notification is not applied. The listener reconnects with a growing delay
// when its connection drops, and reloads once it is back (a notification may have been missed meanwhile).
import pg from "pg";

/** The channel PostgREST listens on (its db-channel default). */
export const PGRST_CHANNEL = "pgrst";
/** The listener connection's application_name (pg_stat_activity). */
export const LISTENER_APPLICATION_NAME = "postgrest-standin listener";

/** A role's settings as two parallel arrays (names, values), ready for unnest($n::text[], $m::text[]). */
export interface RoleSettingList {
  names: string[];
  values: string[];
}

const NONE: RoleSettingList = { names: [], values: [] };

/** Every role's own settings a user may change, this database's over the all-databases ones. */
const LOAD_SQL = `
  select r.rolname as role, array_agg(s.name order by s.name) as names, array_agg(s.value order by s.name) as values
  from (
    select distinct on (d.setrole, split_part(c.cfg, '=', 1))
      d.setrole, split_part(c.cfg, '=', 1) as name, substr(c.cfg, strpos(c.cfg, '=') + 1) as value
    from pg_catalog.pg_db_role_setting d
    cross join lateral unnest(d.setconfig) as c(cfg)
    where d.setdatabase in (0, (select oid from pg_catalog.pg_database where datname = current_database()))
    order by d.setrole, split_part(c.cfg, '=', 1), d.setdatabase desc
  ) s
  join pg_catalog.pg_roles r on r.oid = s.setrole
  join pg_catalog.pg_settings p on p.name = s.name and p.context = 'user'
  group by r.rolname`;

/** Whether a notification on PostgREST's channel asks for a config reload ('reload config', or empty: both). */
export function asksConfigReload(payload: string | undefined): boolean {
  const p = (payload ?? "").trim();
  return p === "" || p === "reload config";
}

/**
 * The role settings the stand-in applies, loaded at start and on PostgREST's reload notification, as
 * PostgREST holds them with its configuration.
 */
export class RoleSettings {
  private byRole = new Map<string, RoleSettingList>();
  private client: pg.Client | undefined;
  private closed = false;
  private retryMs = 250;
  private timer: NodeJS.Timeout | undefined;
  /** How many times the settings were loaded (the start counts as one). */
  loads = 0;

  private readonly dbUrl: string;

  constructor(dbUrl: string) {
    this.dbUrl = dbUrl;
  }

  /** Connects the listener and loads the settings; rejects when the database cannot be reached now. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** The settings of `role` as last loaded (none when it has none). */
  of(role: string): RoleSettingList {
    return this.byRole.get(role) ?? NONE;
  }

  /** Stops listening; no reconnect after this. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.dbUrl, application_name: LISTENER_APPLICATION_NAME });
    // A dropped connection emits "error" (and "end"): reconnect instead of crashing the process.
    client.on("error", () => this.lost(client));
    client.on("end", () => this.lost(client));
    client.on("notification", (n) => {
      if (n.channel === PGRST_CHANNEL && asksConfigReload(n.payload)) void this.load(client).catch(() => this.lost(client));
    });
    this.client = client;
    try {
      await client.connect();
      // LISTEN before loading, so that no change between the two is missed.
      await client.query(`listen ${PGRST_CHANNEL}`);
      await this.load(client);
    } catch (e) {
      this.client = undefined;
      await client.end().catch(() => undefined);
      throw e;
    }
    this.retryMs = 250;
  }

  private async load(client: pg.Client): Promise<void> {
    const { rows } = await client.query<{ role: string; names: string[]; values: string[] }>(LOAD_SQL);
    if (this.closed || client !== this.client) return;
    this.byRole = new Map(rows.map((r) => [r.role, { names: r.names, values: r.values }]));
    this.loads++;
  }

  private lost(client: pg.Client): void {
    if (this.closed || client !== this.client) return;
    this.client = undefined;
    void client.end().catch(() => undefined);
    this.retry();
  }

  private retry(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.connect().catch(() => {
        this.retryMs = Math.min(this.retryMs * 2, 4_000); // PostgREST doubles up to 32 s; a local stack wants less
        this.retry();
      });
    }, this.retryMs);
    this.timer.unref();
  }
}

/**
 * A scalar subquery that applies the role's settings, given as parameters `$<names>` and `$<values>` (text
 * arrays), in the current transaction and yields how many: put first in the request's one set_config
 * statement, so it costs no round trip of its own and runs before the request's settings.
 */
export function roleSettingsSql(names: number, values: number): string {
  return `(select count(set_config(s.name, s.value, true)) from unnest($${names}::text[], $${values}::text[]) as s(name, value))`;
}
