import { startUpstream } from './upstream.js';
import { startGateway } from './gateway.js';
import { routesYaml } from './http.js';

/** A gateway with `trust_proxy: <trust>`, one IP-keyed limit of burst 1 on /api, and its echo upstream; both closed after the test. */
export async function gatewayTrusting(trust: string, t: { after(fn: () => Promise<unknown>): void }) {
  const up = await startUpstream();
  const gw = await startGateway(`server: { trust_proxy: ${trust} }
rate_limit: { requests_per_second: 1, burst: 1, key: [ip] }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}
