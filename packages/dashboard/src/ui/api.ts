import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError } from '../shared/api-types.js';

/**
 * The page's side of the HTTP API: requests with the bearer token when there is one, errors with the
 * server's message, and live data by polling with If-None-Match (an unchanged answer is a 304: no
 * body, no re-render). Polling works through any proxy and over any storage, which has no change
 * feed to push from.
 */

const TOKEN_KEY = 'durably-dashboard-token';

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A token given in the address (#token=...) is kept for this tab and taken out of the address bar. */
export function adoptTokenFromLocation(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  history.replaceState(null, '', location.pathname + location.search);
}

export function setToken(token: string | undefined): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  unauthorizedListeners.forEach((l) => l(false));
}

const unauthorizedListeners = new Set<(unauthorized: boolean) => void>();

/** Calls `listener(true)` when the server asks for a token, `listener(false)` when one is set. */
export function onUnauthorized(listener: (unauthorized: boolean) => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

async function failure(res: Response): Promise<ApiRequestError> {
  if (res.status === 401) unauthorizedListeners.forEach((l) => l(true));
  try {
    const body = (await res.json()) as ApiError;
    return new ApiRequestError(res.status, body.error.code, body.error.message);
  } catch {
    return new ApiRequestError(res.status, 'HTTP_' + res.status, `The server answered ${res.status} ${res.statusText}.`);
  }
}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: headers({ 'Content-Type': 'application/json' }), body: JSON.stringify(body) });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export interface Polled<T> {
  data?: T;
  error?: ApiRequestError | Error;
  loading: boolean;
  /** Fetches again now (after an action), without waiting for the next tick. */
  refresh: () => void;
}

/**
 * Fetches `path` and again every `intervalMs` while the tab is visible, sending the last ETag; a 304
 * keeps the data as it is. `path` undefined fetches nothing. The interval may change with the data
 * (a finished run is polled slowly).
 */
export function usePoll<T>(path: string | undefined, intervalMs: number): Polled<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean; path?: string }>({ loading: path !== undefined, path });
  const etag = useRef<string | undefined>(undefined);
  // Read at each tick, so a new interval (a run that finished) never interrupts a request in flight.
  const interval = useRef(intervalMs);
  interval.current = intervalMs;
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    etag.current = undefined;
    setState({ loading: path !== undefined, path });
  }, [path]);

  useEffect(() => {
    if (path === undefined) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const controller = new AbortController();
    const load = async () => {
      try {
        const res = await fetch(path, { headers: headers(etag.current ? { 'If-None-Match': etag.current } : {}), signal: controller.signal });
        if (cancelled) return;
        if (res.status === 304) {
          setState((s) => (s.error ? { ...s, error: undefined, loading: false } : s));
        } else if (res.ok) {
          const data = (await res.json()) as T;
          if (cancelled) return;
          // The ETag is kept only with the data it stands for: a later 304 must mean "what you have".
          etag.current = res.headers.get('ETag') ?? undefined;
          setState({ data, loading: false, path });
        } else {
          const error = await failure(res);
          if (!cancelled) setState((s) => ({ ...s, error, loading: false }));
        }
      } catch (err) {
        if (cancelled || (err as Error).name === 'AbortError') return;
        setState((s) => ({ ...s, error: new Error(`Cannot reach the dashboard server: ${(err as Error).message}`), loading: false }));
      }
      if (!cancelled) timer = setTimeout(schedule, interval.current);
    };
    const schedule = () => {
      if (document.visibilityState === 'hidden') {
        timer = setTimeout(schedule, interval.current);
        return;
      }
      void load();
    };
    void load();
    return () => {
      cancelled = true;
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, [path, tick]);

  const current = state.path === path;
  return { data: current ? state.data : undefined, error: current ? state.error : undefined, loading: current ? state.loading : true, refresh };
}
