// The shapes the server sends (docs: /work/notes/dashboard-contract.md). Every
// string in them may be hostile (a client's label, a path, a user agent):
// the UI only ever renders them as text.

export interface Session {
  who: string;
  csrf: string;
  expires_at: string;
  adaptive: boolean;
  key_store: boolean;
  refresh_ms: number;
}

export interface ApiError {
  error: string;
  message?: string;
  problems?: { path: string; message: string }[];
}

export interface OverviewSnapshot {
  at: number;
  series: {
    t: number[];
    requests: number[];
    allowed: number[];
    limited: number[];
    blocked: number[];
    errors: number[];
    p50_ms: (number | null)[];
    p99_ms: (number | null)[];
  };
  totals: { requests: number; allowed: number; limited: number; blocked: number; errors: number };
  since: string;
  config: { hash: string; routes: number; last_reload: null | { result: 'ok' | 'error'; at: string; message: string | null } };
}

export type CircuitState = 'closed' | 'half_open' | 'open';

export interface RouteRow {
  path: string;
  host: string | null;
  methods: string[] | null;
  policy: string | null;
  require_api_key: boolean;
  targets: { url: string; healthy: boolean; circuit: CircuitState }[];
  rps: number;
  refusal_share: number;
}

export interface RoutesSnapshot {
  at: number;
  routes: RouteRow[];
}

export interface Override {
  kind: 'limit' | 'block';
  requests_per_second?: number;
  burst?: number;
  expires_at: string | null;
  set_by: string;
}

/** A limit as the clients list shows it; `requests_per_second` only if the server sends it (bucket limits). */
export interface LimitBrief {
  id: string;
  limit: number;
  remaining: number;
  requests_per_second?: number;
}

// The server's bands (adaptive/bands.ts); any other string is shown as it comes.
export type Band = 'trusted' | 'normal' | 'suspicious' | 'blocked' | (string & {});

export interface ClientRow {
  client: string;
  requests: number;
  refusals: number;
  /** 0 (or null) for a client found by search that sent nothing in the window. */
  last_status: number | null;
  last_seen: string | null;
  risk: number | null;
  band: Band | null;
  limits: LimitBrief[];
  override: Override | null;
}

export type ClientSort = 'requests' | 'refusals' | 'risk';

export interface ClientsSnapshot {
  at: number;
  window_s: number;
  adaptive: boolean;
  query: { q: string; resolved: string | null; error: string | null };
  clients: ClientRow[];
}

export interface LimitState extends LimitBrief {
  algorithm: string;
  scope: string;
  mode: string;
  reset: number;
}

export interface RecentRequest {
  time: string;
  method: string;
  path: string;
  route: string | null;
  status: number;
  decision: string;
  duration_ms: number | null;
  user_agent: string | null;
}

export interface ClientSnapshot {
  at: number;
  client: string;
  key_id: string | null;
  plan: string | null;
  error: string | null;
  limits: { policy: string; routes: string[]; limits: LimitState[] }[];
  override: Override | null;
  risk: null | { score: number; band: Band; top: { feature: string; value: number; contribution: number }[] };
  recent: RecentRequest[];
}

export interface LogLine {
  time: string;
  method: string;
  path: string;
  route: string | null;
  client: string;
  status: number;
  decision: string;
  duration_ms: number | null;
  band: Band | null;
  /** As the client sent it (cut to 200 characters): hostile text, shown as text only. */
  user_agent: string | null;
}

export interface LogMessage {
  at: number;
  lines: LogLine[];
}
