import { useStream } from '../api';
import { PageTitle, TableBox, Waiting } from '../components/common';
import type { CircuitState, RouteRow, RoutesSnapshot } from '../contract';
import { formatPercent, formatRate } from '../format';

export function RoutesPage() {
  const data = useStream<RoutesSnapshot>('routes');
  return (
    <>
      <PageTitle>Routes</PageTitle>
      <p class="hint">Requests/s over the last 10 s; refusals (429 and 403) as a share of requests over the last 60 s.</p>
      {data === null ? (
        <Waiting what="the route table" />
      ) : data.routes.length === 0 ? (
        <p>No routes are configured.</p>
      ) : (
        <TableBox label="Routes">
          <thead>
            <tr>
              <th scope="col">Route</th>
              <th scope="col">Methods</th>
              <th scope="col">Policy</th>
              <th scope="col">API key</th>
              <th scope="col">Targets</th>
              <th scope="col" class="num">Requests/s</th>
              <th scope="col" class="num">Refused</th>
            </tr>
          </thead>
          <tbody>
            {data.routes.map((route) => (
              <Route key={`${route.host ?? ''} ${route.path}`} route={route} />
            ))}
          </tbody>
        </TableBox>
      )}
    </>
  );
}

const CIRCUIT: Record<CircuitState, { text: string; tone: string }> = {
  closed: { text: 'circuit closed', tone: 'tone-ok' },
  half_open: { text: 'circuit half open', tone: 'tone-warn' },
  open: { text: 'circuit open', tone: 'tone-bad' },
};

// A route without a methods list answers these (the server lists them all).
const ALL_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'];

function methodsText(methods: string[] | null): string {
  if (methods === null || methods.length === 0 || ALL_METHODS.every((m) => methods.includes(m))) return 'any';
  return methods.join(', ');
}

function Route({ route }: { route: RouteRow }) {
  return (
    <tr>
      <td class="path-cell">
        <code>{route.path}</code>
        {route.host !== null && <div class="hint">host {route.host}</div>}
      </td>
      <td class="text-cell">{methodsText(route.methods)}</td>
      <td class="text-cell">{route.policy ?? 'none'}</td>
      <td>{route.require_api_key ? 'required' : 'no'}</td>
      <td>
        <ul class="targets">
          {route.targets.map((target) => {
            const circuit = CIRCUIT[target.circuit] ?? { text: `circuit ${target.circuit}`, tone: 'tone-muted' };
            return (
              <li key={target.url}>
                <code>{target.url}</code> <span class={`badge ${target.healthy ? 'tone-ok' : 'tone-bad'}`}>{target.healthy ? 'healthy' : 'ejected'}</span>{' '}
                <span class={`badge ${circuit.tone}`}>{circuit.text}</span>
              </li>
            );
          })}
        </ul>
      </td>
      <td class="num">{formatRate(route.rps)}</td>
      <td class="num">{formatPercent(route.refusal_share)}</td>
    </tr>
  );
}
