import { useEffect, useState } from 'preact/hooks';
import type { TargetedSubmitEvent } from 'preact';
import { useSession, useStream } from '../api';
import { ClientActions } from '../components/actions';
import { PageTitle, TableBox, Waiting } from '../components/common';
import type { ClientRow, ClientSort, ClientsSnapshot } from '../contract';
import { formatCount, formatScore, formatStatus, overrideSummary, remainingOf, statusTone } from '../format';
import { clientHref } from '../routes';

export function ClientsPage() {
  const session = useSession();
  const [sort, setSort] = useState<ClientSort>('requests');
  const [q, setQ] = useState('');
  const [draft, setDraft] = useState('');
  const data = useStream<ClientsSnapshot>('clients', { sort, q });
  const adaptive = data?.adaptive ?? session.adaptive;
  // Adaptive protection turned off by a reload: there is no risk to sort by any more.
  useEffect(() => {
    if (!adaptive && sort === 'risk') setSort('requests');
  }, [adaptive, sort]);

  const search = (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    setQ(draft.trim());
  };
  const clear = () => {
    setDraft('');
    setQ('');
  };

  return (
    <>
      <PageTitle>Clients</PageTitle>
      <div class="toolbar">
        <form role="search" class="inline-form" onSubmit={search}>
          <label>
            Find a client
            <input
              type="search"
              name="q"
              placeholder="API key, key:…, id:…, ip:…, jwt:…"
              autocomplete="off"
              spellcheck={false}
              value={draft}
              onInput={(e) => setDraft(e.currentTarget.value)}
            />
          </label>
          <button type="submit">Search</button>
          {q !== '' && (
            <button type="button" onClick={clear}>
              Show top clients
            </button>
          )}
        </form>
        <label class="inline-label">
          Sort by
          <select value={sort} onChange={(e) => setSort(e.currentTarget.value as ClientSort)}>
            <option value="requests">requests</option>
            <option value="refusals">refusals</option>
            {adaptive && <option value="risk">risk</option>}
          </select>
        </label>
      </div>
      {data === null ? <Waiting what="clients" /> : <Clients data={data} />}
    </>
  );
}

function Clients({ data }: { data: ClientsSnapshot }) {
  const { query, adaptive } = data;
  return (
    <>
      {query.error !== null && <p class="tone-bad">{query.error}</p>}
      <p class="hint">
        {query.resolved !== null ? `Showing ${query.resolved}` : `Top ${data.clients.length} clients`} over the last {formatCount(data.window_s)} s.
      </p>
      {data.clients.length === 0 ? (
        <p>No clients in this window.</p>
      ) : (
        <TableBox label="Clients" className="sticky-first">
          <thead>
            <tr>
              <th scope="col">Client</th>
              <th scope="col" class="num">Requests</th>
              <th scope="col" class="num">Refusals</th>
              <th scope="col" class="num">Last status</th>
              <th scope="col" class="num">Remaining</th>
              <th scope="col">Override</th>
              {adaptive && <th scope="col" class="num">Risk</th>}
              {adaptive && <th scope="col">Band</th>}
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data.clients.map((row) => (
              <Client key={row.client} row={row} adaptive={adaptive} now={data.at} />
            ))}
          </tbody>
        </TableBox>
      )}
    </>
  );
}

function Client({ row, adaptive, now }: { row: ClientRow; adaptive: boolean; now: number }) {
  return (
    <tr>
      <td class="client-cell">
        <a href={clientHref(row.client)}>{row.client}</a>
      </td>
      <td class="num">{formatCount(row.requests)}</td>
      <td class="num">{formatCount(row.refusals)}</td>
      <td class={`num ${statusTone(row.last_status)}`}>{formatStatus(row.last_status)}</td>
      <td class="num">{remainingOf(row.limits[0])}</td>
      <td class={row.override?.kind === 'block' ? 'override-cell tone-bad' : 'override-cell'}>{overrideSummary(row.override, now)}</td>
      {adaptive && <td class="num">{row.risk === null ? '—' : formatScore(row.risk)}</td>}
      {adaptive && <td>{row.band === null ? '—' : <span class={`badge band-${row.band}`}>{row.band}</span>}</td>}
      <td>
        <ClientActions target={{ client: row.client, limit: row.limits[0], override: row.override }} adaptive={adaptive} now={now} />
      </td>
    </tr>
  );
}
