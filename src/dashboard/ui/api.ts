import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError, Session } from './contract';
import { createStore } from './store';

const LOGIN_PAGE = '/dashboard/login';
const JSON_HEADERS = { 'content-type': 'application/json' };

export const SessionContext = createContext<Session | null>(null);

/** The signed-in session; the app renders only once it is known, so it is never null below the root. */
export function useSession(): Session {
  return useContext(SessionContext) as Session;
}

export function goToLogin(): void {
  location.assign(LOGIN_PAGE);
}

/** Thrown once the page is on its way to the login page: nothing more to show. */
export class SignedOut extends Error {}

/** The session, or a trip to the login page when there is none (401). */
export async function loadSession(): Promise<Session> {
  const response = await fetch('/dashboard/api/session', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (response.status === 401) {
    goToLogin();
    throw new SignedOut('not signed in');
  }
  if (!response.ok) throw new Error(`session: HTTP ${response.status}`);
  return (await response.json()) as Session;
}

let sessionCsrf = '';

export function rememberCsrf(token: string): void {
  sessionCsrf = token;
}

/** The page's CSRF token (the shell's meta tag; the session's copy if the tag is missing). */
function csrfToken(): string {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta?.getAttribute('content') || sessionCsrf;
}

export async function signOut(): Promise<void> {
  try {
    await fetch('/dashboard/logout', { method: 'POST', credentials: 'same-origin', headers: { 'x-csrf-token': csrfToken() } });
  } finally {
    goToLogin();
  }
}

export type AdminResult = { ok: true; status: number } | { ok: false; status: number; error: ApiError };

/** One admin API call, authenticated by the session cookie and the CSRF header. */
export async function callAdmin(method: 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<AdminResult> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: { ...JSON_HEADERS, 'x-csrf-token': csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    return { ok: false, status: 0, error: { error: 'network_error', message: err instanceof Error ? err.message : String(err) } };
  }
  if (response.ok) return { ok: true, status: response.status };
  if (response.status === 401) goToLogin();
  return { ok: false, status: response.status, error: await readError(response) };
}

async function readError(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as Partial<ApiError>;
    if (typeof body.error === 'string') return body as ApiError;
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  return { error: `http_${response.status}`, message: response.statusText };
}

// ---- Live data (Server-Sent Events) ----

/** live: messages arriving; paused: the tab is hidden; connecting: opening or retrying. */
export type StreamState = 'connecting' | 'live' | 'paused';
export const streamState = createStore<StreamState>('connecting');

export type StreamParams = Record<string, string | undefined>;

export function streamUrl(topic: string, params: StreamParams = {}): string {
  const search = new URLSearchParams({ topic });
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(name, value);
  return `/dashboard/api/stream?${search.toString()}`;
}

type Handlers = Partial<Record<'snapshot' | 'append', (data: unknown) => void>>;

// A stream that the server closed (EventSource gives up on a non-200 answer) is reopened after this.
const REOPEN_AFTER_MS = 5_000;
// How often a failing stream may ask whether the session is still there.
const SESSION_CHECK_EVERY_MS = 5_000;
let lastSessionCheck = 0;

async function checkSessionAfterStreamError(): Promise<void> {
  const now = Date.now();
  if (now - lastSessionCheck < SESSION_CHECK_EVERY_MS) return;
  lastSessionCheck = now;
  try {
    await loadSession();
  } catch {
    // loadSession has gone to the login page on 401; anything else is the server restarting: retry.
  }
}

/**
 * One EventSource for `url` while the component is mounted and the tab is
 * visible: a hidden tab closes it (nothing to draw, and the server stops
 * sampling for it), a visible one opens a fresh one, whose first message is
 * a full snapshot. Handlers may change between renders; the connection stays.
 */
export function useEventStream(url: string, handlers: Handlers): void {
  const current = useRef(handlers);
  current.current = handlers;

  useEffect(() => {
    let source: EventSource | null = null;
    let reopenTimer: ReturnType<typeof setTimeout> | undefined;

    const close = (): void => {
      clearTimeout(reopenTimer);
      source?.close();
      source = null;
    };
    const open = (): void => {
      if (source !== null) return;
      const opened = new EventSource(url);
      source = opened;
      streamState.set('connecting');
      for (const name of ['snapshot', 'append'] as const) {
        opened.addEventListener(name, (event) => {
          const data = parse((event as MessageEvent<string>).data);
          if (data === undefined) return;
          streamState.set('live');
          current.current[name]?.(data);
        });
      }
      opened.onerror = () => {
        streamState.set('connecting');
        void checkSessionAfterStreamError();
        if (opened.readyState === EventSource.CLOSED && source === opened) {
          source = null;
          reopenTimer = setTimeout(open, REOPEN_AFTER_MS);
        }
      };
    };
    const onVisibility = (): void => {
      if (document.visibilityState === 'hidden') {
        close();
        streamState.set('paused');
      } else open();
    };

    if (document.visibilityState === 'hidden') streamState.set('paused');
    else open();
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      close();
    };
  }, [url]);
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The latest snapshot of a topic (null until the first arrives, and again when the topic or its params change). */
export function useStream<T>(topic: string, params: StreamParams = {}): T | null {
  const url = streamUrl(topic, params);
  const [latest, setLatest] = useState<{ url: string; data: T } | null>(null);
  useEventStream(url, { snapshot: (data) => setLatest({ url, data: data as T }) });
  return latest !== null && latest.url === url ? latest.data : null;
}
