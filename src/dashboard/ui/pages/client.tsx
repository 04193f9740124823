import { useSession, useStream } from '../api';
import { ClientActions } from '../components/actions';
import { PageTitle, TableBox, Waiting } from '../components/common';
import type { ClientSnapshot } from '../contract';
import { decisionTone, formatExpiry, formatMs, formatScore, formatSeconds, formatTime, overrideSummary, statusTone } from '../format';

export function ClientPage({ client }: { client: string }) {
  const data = useStream<ClientSnapshot>('client', { key: client });
  return (
    <>
      <p class="breadcrumb">
        <a href="#/clients">← All clients</a>
      </p>
      <PageTitle>
        Client <span class="client-name">{data?.client ?? client}</span>
      </PageTitle>
      {data === null ? <Waiting what="this client's state" /> : <ClientDetail data={data} />}
    </>
  );
}

function ClientDetail({ data }: { data: ClientSnapshot }) {
  const { adaptive } = useSession();
  if (data.error !== null) return <p class="tone-bad">{data.error}</p>;
  const firstLimit = data.limits[0]?.limits[0];
  return (
    <>
      <dl class="facts">
        <dt>Label</dt>
        <dd>
          <code>{data.client}</code>
        </dd>
        <dt>API key id</dt>
        <dd>{data.key_id ?? '—'}</dd>
        <dt>Plan</dt>
        <dd>{data.plan ?? '—'}</dd>
        <dt>Override</dt>
        <dd class={data.override?.kind === 'block' ? 'tone-bad' : ''}>
          {overrideSummary(data.override, data.at)}
          {data.override !== null && ` (set by ${data.override.set_by})`}
        </dd>
      </dl>
      <ClientActions target={{ client: data.client, limit: firstLimit, override: data.override }} adaptive={adaptive} now={data.at} />
      <Limits data={data} />
      {data.risk !== null && <Risk risk={data.risk} />}
      <Recent data={data} />
    </>
  );
}

function Limits({ data }: { data: ClientSnapshot }) {
  return (
    <section aria-labelledby="limits-title">
      <h2 id="limits-title">Limits</h2>
      {data.override !== null && (
        <p class="hint">
          The override applies instead of these ({data.override.kind === 'block' ? 'blocked' : 'limit'}, {formatExpiry(data.override.expires_at, data.at)}).
        </p>
      )}
      {data.limits.length === 0 ? (
        <p>No limits apply to this client.</p>
      ) : (
        <TableBox label="Limits">
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Routes</th>
              <th scope="col">Limit</th>
              <th scope="col">Algorithm</th>
              <th scope="col" class="num">Remaining</th>
              <th scope="col" class="num">Reset in</th>
            </tr>
          </thead>
          <tbody>
            {data.limits.flatMap((policy) =>
              policy.limits.map((limit) => (
                <tr key={`${policy.policy} ${limit.id}`}>
                  <td>{policy.policy}</td>
                  <td class="text-cell">{policy.routes.join(', ')}</td>
                  <td>
                    <code>{limit.id}</code>
                    {limit.mode !== 'enforce' && <span class="badge tone-muted">{limit.mode}</span>}
                  </td>
                  <td>
                    {limit.algorithm} <span class="hint">per {limit.scope}</span>
                  </td>
                  <td class={`num ${limit.remaining === 0 ? 'tone-warn' : ''}`}>
                    {limit.remaining} / {limit.limit}
                  </td>
                  <td class="num">{formatSeconds(limit.reset)}</td>
                </tr>
              )),
            )}
          </tbody>
        </TableBox>
      )}
    </section>
  );
}

function Risk({ risk }: { risk: NonNullable<ClientSnapshot['risk']> }) {
  return (
    <section aria-labelledby="risk-title">
      <h2 id="risk-title">Risk</h2>
      <p>
        Score {formatScore(risk.score)}, band <span class={`badge band-${risk.band}`}>{risk.band}</span>
      </p>
      {risk.top.length > 0 && (
        <TableBox label="Top risk features">
          <thead>
            <tr>
              <th scope="col">Feature</th>
              <th scope="col" class="num">Value</th>
              <th scope="col" class="num">Contribution</th>
            </tr>
          </thead>
          <tbody>
            {risk.top.map((feature) => (
              <tr key={feature.feature}>
                <td class="text-cell">
                  <code>{feature.feature}</code>
                </td>
                <td class="num">{formatScore(feature.value)}</td>
                <td class="num">{formatScore(feature.contribution)}</td>
              </tr>
            ))}
          </tbody>
        </TableBox>
      )}
    </section>
  );
}

function Recent({ data }: { data: ClientSnapshot }) {
  return (
    <section aria-labelledby="recent-title">
      <h2 id="recent-title">Recent requests</h2>
      {data.recent.length === 0 ? (
        <p>No recent requests.</p>
      ) : (
        <TableBox label="Recent requests">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Method</th>
              <th scope="col">Path</th>
              <th scope="col" class="num">Status</th>
              <th scope="col">Decision</th>
              <th scope="col" class="num">Duration</th>
              <th scope="col">User agent</th>
            </tr>
          </thead>
          <tbody>
            {data.recent.map((line, i) => (
              <tr key={`${line.time} ${i}`}>
                <td>{formatTime(line.time)}</td>
                <td class="method-cell">{line.method}</td>
                <td class="path-cell">
                  <code>{line.path}</code>
                </td>
                <td class={`num ${statusTone(line.status)}`}>{line.status}</td>
                <td class={decisionTone(line.decision)}>{line.decision}</td>
                <td class="num">{formatMs(line.duration_ms)}</td>
                <td class="text-cell ua-cell">{line.user_agent ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </TableBox>
      )}
    </section>
  );
}
