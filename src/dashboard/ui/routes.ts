/** The pages, from the location's hash: #/, #/routes, #/clients, #/clients/<client>, #/log. */
export type Page =
  | { name: 'overview' }
  | { name: 'routes' }
  | { name: 'clients' }
  | { name: 'client'; client: string }
  | { name: 'log' }
  | { name: 'not_found'; hash: string };

export function parseHash(hash: string): Page {
  const path = hash.replace(/^#/, '') || '/';
  if (path === '/') return { name: 'overview' };
  if (path === '/routes') return { name: 'routes' };
  if (path === '/clients') return { name: 'clients' };
  if (path === '/log') return { name: 'log' };
  if (path.startsWith('/clients/')) {
    const client = decode(path.slice('/clients/'.length));
    if (client !== null && client !== '') return { name: 'client', client };
  }
  return { name: 'not_found', hash: path };
}

function decode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

export const clientHref = (client: string): string => `#/clients/${encodeURIComponent(client)}`;

export const NAV: { href: string; label: string; pages: Page['name'][] }[] = [
  { href: '#/', label: 'Overview', pages: ['overview'] },
  { href: '#/routes', label: 'Routes', pages: ['routes'] },
  { href: '#/clients', label: 'Clients', pages: ['clients', 'client'] },
  { href: '#/log', label: 'Live log', pages: ['log'] },
];
