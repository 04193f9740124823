import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { loadSession, rememberCsrf, SessionContext, SignedOut, signOut, streamState, useSession } from './api';
import { ActionDialog } from './components/actions';
import { PageTitle } from './components/common';
import { NoticeRegion } from './components/notice';
import type { Session } from './contract';
import { ClientPage } from './pages/client';
import { ClientsPage } from './pages/clients';
import { LogPage } from './pages/log';
import { OverviewPage } from './pages/overview';
import { RoutesPage } from './pages/routes';
import { NAV, parseHash, type Page } from './routes';
import { useStore } from './store';

function useHashPage(): Page {
  const [page, setPage] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onHashChange = () => setPage(parseHash(location.hash));
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, []);
  return page;
}

const TITLES: Record<Page['name'], string> = {
  overview: 'Overview',
  routes: 'Routes',
  clients: 'Clients',
  client: 'Client',
  log: 'Live log',
  not_found: 'Not found',
};

function App({ session }: { session: Session }) {
  const page = useHashPage();
  useEffect(() => {
    document.title = `${page.name === 'client' ? `${TITLES.client} ${page.client}` : TITLES[page.name]} · Throttlegate`;
  }, [page]);
  return (
    <SessionContext.Provider value={session}>
      <a class="skip-link" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <Header page={page} />
      <main id="main" tabIndex={-1}>
        <NoticeRegion />
        <PageView page={page} />
      </main>
      <ActionDialog />
    </SessionContext.Provider>
  );
}

// The hash is the router's, so the skip link moves focus itself instead of navigating.
function skipToMain(event: Event) {
  event.preventDefault();
  document.getElementById('main')?.focus();
}

function PageView({ page }: { page: Page }) {
  switch (page.name) {
    case 'overview':
      return <OverviewPage />;
    case 'routes':
      return <RoutesPage />;
    case 'clients':
      return <ClientsPage />;
    case 'client':
      return <ClientPage client={page.client} />;
    case 'log':
      return <LogPage />;
    case 'not_found':
      return (
        <>
          <PageTitle>Not found</PageTitle>
          <p>
            There is no page <code>{page.hash}</code>. <a href="#/">Go to the overview</a>.
          </p>
        </>
      );
  }
}

function Header({ page }: { page: Page }) {
  const { who } = useSession();
  return (
    <header class="top">
      <a class="brand" href="#/">
        Throttlegate
      </a>
      <nav aria-label="Dashboard">
        <ul>
          {NAV.map((item) => {
            const current = item.pages[0] === page.name ? 'page' : item.pages.includes(page.name) ? 'true' : undefined;
            return (
              <li key={item.href}>
                <a href={item.href} aria-current={current}>
                  {item.label}
                </a>
              </li>
            );
          })}
        </ul>
      </nav>
      <div class="who">
        <LiveIndicator />
        <span class="signed-in">
          Signed in as <strong>{who}</strong>
        </span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
    </header>
  );
}

const STREAM_TEXT = { live: 'live', paused: 'paused', connecting: 'connecting…' } as const;

function LiveIndicator() {
  const state = useStore(streamState);
  return (
    <span class={`live live-${state}`} title={state === 'paused' ? 'Updates pause while this tab is hidden' : undefined}>
      <span class="dot" aria-hidden="true" />
      {STREAM_TEXT[state]}
    </span>
  );
}

async function start(): Promise<void> {
  const root = document.getElementById('app');
  if (root === null) return;
  try {
    const session = await loadSession();
    rememberCsrf(session.csrf);
    render(<App session={session} />, root);
  } catch (err) {
    if (err instanceof SignedOut) return;
    root.textContent = `The dashboard could not start: ${err instanceof Error ? err.message : String(err)}`;
  }
}

void start();
