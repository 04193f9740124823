/**
 * The dashboard viewer of target (s): `node dist-test/bench/dashboard-viewer.js ADMIN_URL TOKEN`
 * signs in, opens the overview, clients and live log streams and prints `ready 0` once all three
 * are open; it reads and drops what they send until its stdin closes (its target went away).
 * A process of its own, on the loader's CPU, as a browser would be: a viewer inside the target
 * would run its own HTTP client code on the gateway's thread and charge the gateway for it.
 */
import { announce, fail } from './child.js';

async function main(): Promise<void> {
  const [admin, token] = process.argv.slice(2);
  if (admin === undefined || token === undefined) throw new Error('usage: node dashboard-viewer.js ADMIN_URL TOKEN');
  const login = await fetch(`${admin}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ token }), redirect: 'manual' });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
  if (!cookie.startsWith('tg_session=') || cookie === 'tg_session=') throw new Error('the dashboard sign-in failed');
  for (const topic of ['overview', 'clients', 'log']) {
    const res = await fetch(`${admin}/dashboard/api/stream?topic=${topic}`, { headers: { cookie } });
    if (res.status !== 200 || res.body === null) throw new Error(`the ${topic} stream answered ${res.status}`);
    void res.body.pipeTo(new WritableStream());
  }
  announce(0);
}

main().catch(fail);
