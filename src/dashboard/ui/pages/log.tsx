import { useState } from 'preact/hooks';
import type { TargetedSubmitEvent } from 'preact';
import { streamUrl, useEventStream, useSession } from '../api';
import { PageTitle, TableBox } from '../components/common';
import type { LogLine, LogMessage } from '../contract';
import { decisionTone, formatMs, formatTime, statusTone } from '../format';
import { clientHref } from '../routes';

// Rows kept in the page: enough to read back a burst, few enough to keep the DOM light.
const MAX_ROWS = 500;

interface Filters {
  route: string;
  client: string;
  status: string;
}

const NO_FILTERS: Filters = { route: '', client: '', status: '' };

/** A line and a number of its own: lines carry no id, and a stable key keeps prepending cheap. */
interface Row extends LogLine {
  id: number;
}

let rowsSeen = 0;
const numbered = (lines: LogLine[]): Row[] => lines.map((line) => ({ ...line, id: ++rowsSeen }));

export function LogPage() {
  const { adaptive } = useSession();
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [rows, setRows] = useState<Row[]>([]);

  useEventStream(streamUrl('log', { ...filters }), {
    snapshot: (data) => setRows(numbered((data as LogMessage).lines).slice(0, MAX_ROWS)),
    append: (data) => setRows((shown) => [...numbered((data as LogMessage).lines), ...shown].slice(0, MAX_ROWS)),
  });

  const apply = (next: Filters) => {
    setRows([]);
    setFilters(next);
  };
  const submit = (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    apply({ route: draft.route.trim(), client: draft.client.trim(), status: draft.status.trim().toLowerCase() });
  };
  const clear = () => {
    setDraft(NO_FILTERS);
    apply(NO_FILTERS);
  };
  const field = (name: keyof Filters) => ({
    name,
    value: draft[name],
    autocomplete: 'off',
    onInput: (e: { currentTarget: HTMLInputElement }) => setDraft({ ...draft, [name]: e.currentTarget.value }),
  });

  return (
    <>
      <PageTitle>Live log</PageTitle>
      <form class="inline-form filters" aria-label="Filter the log" onSubmit={submit}>
        <label>
          Route
          <input type="text" placeholder="/api" {...field('route')} />
        </label>
        <label>
          Client
          <input type="text" placeholder="ip:…, key:…" {...field('client')} />
        </label>
        <label>
          Status
          <input type="text" placeholder="2xx, 4xx, 5xx, 429" pattern="[1-5]([0-9]{2}|xx|XX)" title="a status code (429) or a class (2xx, 4xx, 5xx)" size={8} {...field('status')} />
        </label>
        <button type="submit">Apply filters</button>
        {(filters.route !== '' || filters.client !== '' || filters.status !== '') && (
          <button type="button" onClick={clear}>
            Clear
          </button>
        )}
      </form>
      <p class="hint">Newest first, sampled (at most 50 lines a second), the last {MAX_ROWS} kept.</p>
      {rows.length === 0 ? (
        <p>No requests yet{filters === NO_FILTERS ? '' : ' matching these filters'}.</p>
      ) : (
        <TableBox label="Requests">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Method</th>
              <th scope="col">Path</th>
              <th scope="col">Route</th>
              <th scope="col">Client</th>
              <th scope="col" class="num">Status</th>
              <th scope="col">Decision</th>
              <th scope="col" class="num">Duration</th>
              <th scope="col">User agent</th>
              {adaptive && <th scope="col">Band</th>}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id}>
                <td>{formatTime(row.time)}</td>
                <td class="method-cell">{row.method}</td>
                <td class="path-cell">
                  <code>{row.path}</code>
                </td>
                <td class="path-cell">{row.route ?? '—'}</td>
                <td class="client-cell">{row.client ? <a href={clientHref(row.client)}>{row.client}</a> : '—'}</td>
                <td class={`num ${statusTone(row.status)}`}>{row.status}</td>
                <td class={decisionTone(row.decision)}>{row.decision}</td>
                <td class="num">{formatMs(row.duration_ms)}</td>
                <td class="text-cell ua-cell">{row.user_agent ?? '—'}</td>
                {adaptive && <td>{row.band === null ? '—' : <span class={`badge band-${row.band}`}>{row.band}</span>}</td>}
              </tr>
            ))}
          </tbody>
        </TableBox>
      )}
    </>
  );
}
