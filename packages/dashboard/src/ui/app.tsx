import { useEffect, useRef, useState } from 'preact/hooks';
import { Link, Route, Switch, useLocation } from 'wouter-preact';
import { onUnauthorized, setToken } from './api.js';
import { currentTheme, setTheme, type Theme } from './theme.js';
import { DeadLettersPage } from './pages/dead-letters.js';
import { RunPage } from './pages/run.js';
import { RunsPage } from './pages/runs.js';
import { SchedulesPage } from './pages/schedules.js';

const NAV = [
  { href: '/', label: 'Runs', active: (path: string) => path === '/' || path.startsWith('/runs') },
  { href: '/schedules', label: 'Schedules', active: (path: string) => path.startsWith('/schedules') },
  { href: '/dead-letters', label: 'Dead letters', active: (path: string) => path.startsWith('/dead-letters') },
];

export function App() {
  const [location] = useLocation();
  const [theme, setThemeState] = useState<Theme>(currentTheme());
  const [needsToken, setNeedsToken] = useState(false);
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  useEffect(() => onUnauthorized(setNeedsToken), []);
  // After a move to another page, focus its heading, as a full page load would put the reader at the top.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    requestAnimationFrame(() => main.current?.querySelector<HTMLElement>('h1')?.focus());
  }, [location]);
  useEffect(() => {
    if (!location.startsWith('/runs/')) document.title = `${NAV.find((n) => n.active(location))?.label ?? 'Durably'} · Durably`;
  }, [location]);

  return (
    <>
      <a href="#main" class="skip-link">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          Durably
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={n.active(location) ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          class="theme-toggle secondary"
          aria-label={`Switch to the ${theme === 'dark' ? 'light' : 'dark'} theme`}
          onClick={() => {
            const next = theme === 'dark' ? 'light' : 'dark';
            setTheme(next);
            setThemeState(next);
          }}
        >
          {theme === 'dark' ? '☀ Light' : '☾ Dark'}
        </button>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {needsToken ? (
          <TokenForm />
        ) : (
          <Switch>
            <Route path="/" component={RunsPage} />
            <Route path="/runs/:runId">{(params: { runId: string }) => <RunPage runId={decodeURIComponent(params.runId)} />}</Route>
            <Route path="/schedules" component={SchedulesPage} />
            <Route path="/dead-letters" component={DeadLettersPage} />
            <Route>
              <h1 tabIndex={-1}>Not found</h1>
              <p>
                No page here. <Link href="/">Go to the runs</Link>.
              </p>
            </Route>
          </Switch>
        )}
      </main>
    </>
  );
}

/** Shown when the server asks for a token (it listens beyond the loopback). Kept for this tab only. */
function TokenForm() {
  const [value, setValue] = useState('');
  return (
    <form
      class="token-form"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(value.trim());
      }}
    >
      <h1 tabIndex={-1}>Token required</h1>
      <p>This dashboard listens beyond this machine, so it needs the token it was started with.</p>
      <label>
        Token
        <input type="password" autoComplete="current-password" value={value} required autoFocus onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Open the dashboard</button>
    </form>
  );
}
