import { useEffect, useRef, useState } from 'preact/hooks';
import type { TargetedKeyboardEvent, TargetedSubmitEvent } from 'preact';
import { callAdmin, type AdminResult } from '../api';
import type { LimitBrief, Override } from '../contract';
import { formatCount, formatRate, overrideSummary } from '../format';
import { createStore, useStore } from '../store';
import { describeError, notice } from './notice';

export type ActionKind = 'raise' | 'cut' | 'block' | 'unblock' | 'good' | 'bad';

/** Who an action is for, and what it has now (to prefill a new limit). */
export interface ActionTarget {
  client: string;
  limit: LimitBrief | undefined;
  override: Override | null;
}

interface ActionRequest extends ActionTarget {
  kind: ActionKind;
  /** Each request remounts the form, so its fields start from this target's numbers. */
  seq: number;
  now: number;
}

// One dialog for the whole page: a table of 25 rows asks through it rather than holding 25 dialogs.
const asked = createStore<ActionRequest | null>(null);
let askedCount = 0;

export function ClientActions({ target, adaptive, now }: { target: ActionTarget; adaptive: boolean; now: number }) {
  const ask = (kind: ActionKind) => asked.set({ ...target, kind, seq: ++askedCount, now });
  return (
    <div class="actions" role="group" aria-label={`Actions for ${target.client}`}>
      <button type="button" onClick={() => ask('raise')}>Raise limit</button>
      <button type="button" onClick={() => ask('cut')}>Cut limit</button>
      <button type="button" class="danger" onClick={() => ask('block')}>Block</button>
      {target.override !== null && (
        <button type="button" onClick={() => ask('unblock')}>
          {target.override.kind === 'block' ? 'Unblock' : 'Remove override'}
        </button>
      )}
      {adaptive && <button type="button" onClick={() => ask('good')}>Label good</button>}
      {adaptive && <button type="button" onClick={() => ask('bad')}>Label bad</button>}
    </div>
  );
}

/** The confirmation dialog every action goes through; mounted once, in the shell. */
export function ActionDialog() {
  const request = useStore(asked);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    if (request !== null && !element.open) {
      element.showModal();
      const first = element.querySelector<HTMLElement>('[data-autofocus]') ?? element.querySelector<HTMLElement>('button[type="submit"]');
      first?.focus();
    } else if (request === null && element.open) element.close();
  }, [request]);

  // Escape (the dialog's cancel) and Cancel both end in `close`.
  return (
    <dialog ref={dialog} class="action-dialog" aria-labelledby="action-title" onClose={() => asked.set(null)}>
      {request !== null && <ActionForm key={request.seq} request={request} />}
    </dialog>
  );
}

const TITLES: Record<ActionKind, string> = {
  raise: 'Raise the limit',
  cut: 'Cut the limit',
  block: 'Block',
  unblock: 'Remove the override',
  good: 'Label as good',
  bad: 'Label as bad',
};

const CONFIRM: Record<ActionKind, string> = {
  raise: 'Raise limit',
  cut: 'Cut limit',
  block: 'Block',
  unblock: 'Unblock',
  good: 'Label good',
  bad: 'Label bad',
};

const BLOCK_FOR = [
  { value: '10m', label: '10 minutes' },
  { value: '1h', label: '1 hour' },
  { value: '1d', label: '1 day' },
  { value: '', label: 'Until unblocked' },
];

function ActionForm({ request }: { request: ActionRequest }) {
  const suggested = suggestLimit(request);
  const [rps, setRps] = useState(String(suggested.rps));
  const [burst, setBurst] = useState(String(suggested.burst));
  const [expiresIn, setExpiresIn] = useState(request.kind === 'block' ? '1h' : '');
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const { kind, client } = request;
  const asksLimit = kind === 'raise' || kind === 'cut';

  const submit = async (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    const input = { rps: Number(rps), burst: Number(burst), expiresIn: expiresIn.trim() };
    const result = await perform(kind, client, input);
    if (result.ok) {
      notice.set({ tone: 'ok', text: successText(kind, client, input) });
      asked.set(null);
      return;
    }
    const text = `${CONFIRM[kind]} for ${client} failed: ${describeError(result.error)}`;
    notice.set({ tone: 'error', text });
    setFailure(text);
    setBusy(false);
  };
  // A select does not submit its form on Enter by itself.
  const enterSubmits = (event: TargetedKeyboardEvent<HTMLSelectElement>) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    event.currentTarget.form?.requestSubmit();
  };

  return (
    <form method="dialog" onSubmit={submit}>
      <h2 id="action-title">{TITLES[kind]}</h2>
      <p class="dialog-client">
        Client: <code>{client}</code>
      </p>
      {asksLimit && (
        <>
          <p class="hint">Current override: {overrideSummary(request.override, request.now)}.</p>
          <label>
            Requests per second
            <input data-autofocus type="number" name="requests_per_second" min="0.001" step="any" required value={rps} onInput={(e) => setRps(e.currentTarget.value)} />
          </label>
          <label>
            Burst
            <input type="number" name="burst" min="1" step="1" required value={burst} onInput={(e) => setBurst(e.currentTarget.value)} />
          </label>
          <label>
            Expires in <span class="hint">(optional: 10m, 1h, 1d; empty for never)</span>
            <input
              type="text"
              name="expires_in"
              list="expiry-suggestions"
              pattern="[0-9]+(\.[0-9]+)?(ms|s|m|h|d)"
              title="a duration such as 10m, 1h or 1d"
              autocomplete="off"
              value={expiresIn}
              onInput={(e) => setExpiresIn(e.currentTarget.value)}
            />
            <datalist id="expiry-suggestions">
              <option value="10m" />
              <option value="1h" />
              <option value="1d" />
            </datalist>
          </label>
        </>
      )}
      {kind === 'block' && (
        <label>
          Block for
          <select data-autofocus name="expires_in" value={expiresIn} onChange={(e) => setExpiresIn(e.currentTarget.value)} onKeyDown={enterSubmits}>
            {BLOCK_FOR.map((choice) => (
              <option key={choice.value} value={choice.value}>
                {choice.label}
              </option>
            ))}
          </select>
        </label>
      )}
      {kind === 'unblock' && <p>Remove this client's override ({overrideSummary(request.override, request.now)})? Its configured limits apply again.</p>}
      {(kind === 'good' || kind === 'bad') && (
        <p>Tell adaptive protection that this client's recent traffic was {kind === 'good' ? 'legitimate' : 'abusive'}; it learns from the label.</p>
      )}
      {failure !== null && (
        <p class="notice notice-error" role="alert">
          {failure}
        </p>
      )}
      <div class="dialog-buttons">
        <button type="button" onClick={() => asked.set(null)}>
          Cancel
        </button>
        <button type="submit" class={kind === 'block' || kind === 'bad' ? 'danger' : 'primary'} disabled={busy}>
          {busy ? 'Working…' : CONFIRM[kind]}
        </button>
      </div>
    </form>
  );
}

interface ActionInput {
  rps: number;
  burst: number;
  expiresIn: string;
}

/** The admin API call for an action, exactly as the contract has it. */
function perform(kind: ActionKind, client: string, input: ActionInput): Promise<AdminResult> {
  const path = `/v1/limits/${encodeURIComponent(client)}`;
  const expiry = input.expiresIn === '' ? {} : { expires_in: input.expiresIn };
  switch (kind) {
    case 'raise':
    case 'cut':
      return callAdmin('PUT', path, { requests_per_second: input.rps, burst: input.burst, ...expiry });
    case 'block':
      return callAdmin('PUT', path, { block: true, ...expiry });
    case 'unblock':
      return callAdmin('DELETE', path);
    case 'good':
    case 'bad':
      return callAdmin('POST', '/v1/feedback', { key: client, label: kind });
  }
}

function successText(kind: ActionKind, client: string, input: ActionInput): string {
  const lasting = input.expiresIn === '' ? 'no expiry' : `for ${input.expiresIn}`;
  switch (kind) {
    case 'raise':
    case 'cut':
      return `Limit for ${client} set to ${formatRate(input.rps)}/s, burst ${formatCount(input.burst)}, ${lasting}.`;
    case 'block':
      return `${client} blocked ${input.expiresIn === '' ? 'until unblocked' : `for ${input.expiresIn}`}.`;
    case 'unblock':
      return `Override removed for ${client}.`;
    case 'good':
    case 'bad':
      return `${client} labelled ${kind}.`;
  }
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * A new limit from the current one: an override's, else the first limit's
 * (its rate when the server sends it, else its capacity for both numbers);
 * raise doubles, cut halves.
 */
function suggestLimit(request: ActionRequest): { rps: number; burst: number } {
  let rps = 10;
  let burst = 20;
  const { override, limit } = request;
  if (override?.kind === 'limit' && override.requests_per_second !== undefined && override.burst !== undefined) {
    rps = override.requests_per_second;
    burst = override.burst;
  } else if (limit !== undefined) {
    rps = limit.requests_per_second ?? limit.limit;
    burst = limit.limit;
  }
  if (request.kind === 'cut') return { rps: Math.max(0.01, round2(rps / 2)), burst: Math.max(1, Math.floor(burst / 2)) };
  return { rps: round2(rps * 2), burst: Math.max(1, Math.round(burst * 2)) };
}
