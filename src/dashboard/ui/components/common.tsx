import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A page's heading. It takes focus when a link brought the user here, so a
 * screen reader says where they are and Tab goes on from the page's top.
 */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    const active = document.activeElement;
    if (active === null || active === document.body || active.tagName === 'A') heading.current?.focus();
  }, []);
  return (
    <h1 tabIndex={-1} ref={heading}>
      {children}
    </h1>
  );
}

export function Waiting({ what }: { what: string }) {
  return <p class="hint">Waiting for {what}…</p>;
}

/** A table that scrolls sideways inside its own box on a narrow screen, not the page. */
export function TableBox({ label, children, className }: { label: string; children: ComponentChildren; className?: string }) {
  return (
    <div class={className === undefined ? 'table-box' : `table-box ${className}`} role="region" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </div>
  );
}

/** A number with its label; `tone` colours it (only when there is something to see). */
export function Card({ label, value, tone, note }: { label: string; value: string; tone?: string; note?: string }) {
  return (
    <div class={tone === undefined ? 'card' : `card ${tone}`}>
      <dt>{label}</dt>
      <dd>{value}</dd>
      {note !== undefined && <dd class="card-note">{note}</dd>}
    </div>
  );
}
