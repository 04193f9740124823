import type { ApiError } from '../contract';
import { createStore, useStore } from '../store';

export interface Notice {
  tone: 'ok' | 'error';
  text: string;
}

/** The last action's outcome, read out by screen readers (the region is always in the page, so changes are announced). */
export const notice = createStore<Notice | null>(null);

/** An admin API error as one line of text: the token, its message, each problem. */
export function describeError(error: ApiError): string {
  const parts = [error.error];
  if (error.message) parts.push(error.message);
  for (const problem of error.problems ?? []) parts.push(problem.path ? `${problem.path}: ${problem.message}` : problem.message);
  return parts.join(' — ');
}

export function NoticeRegion() {
  const current = useStore(notice);
  return (
    <div class="notice-region" role="status" aria-live="polite">
      {current !== null && (
        <p class={`notice notice-${current.tone}`}>
          <span>{current.text}</span>
          <button type="button" class="link-button" onClick={() => notice.set(null)}>
            Dismiss
          </button>
        </p>
      )}
    </div>
  );
}
