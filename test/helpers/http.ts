import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

/**
 * One request with the path sent exactly as given (fetch would normalise
 * `/a/../b` before sending, which hides the very attacks tests need).
 */
export function send(
  base: string,
  path: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer; agent?: false } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: hostname, port, path, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** YAML for a gateway whose routes point at the given upstream URLs. */
export function routesYaml(routes: { path: string; upstream: string; extra?: string }[]): string {
  return routes
    .map((r) => `  - path: ${r.path}\n    upstream: ${r.upstream}\n${r.extra ? r.extra.replace(/^/gm, '    ') + '\n' : ''}`)
    .join('');
}
