import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml } from '../helpers/http.js';
import { MAX_HEADER_FIELDS } from '../../src/routing/request-head.js';
import { frameworkErrorCode } from '../../src/respond.js';

// Requests a strict parser must refuse, or read one way only: smuggling,
// absolute-form targets, encoded paths, duplicated or too many fields, and
// upgrade offers. Every refusal is a JSON body from the catalogue.

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function setup(t: { after(fn: () => Promise<unknown>): void }, server = '{ max_header_bytes: 262144 }'): Promise<{ up: TestUpstream; gw: TestGateway }> {
  const up = await startUpstream();
  const gw = await startGateway(`server: ${server}\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

/** Writes `data` on a fresh socket and reads every response until the gateway closes it (or `waitMs` passes). */
function exchange(port: number, data: string, waitMs = 3000): Promise<Answer[]> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parseResponses(Buffer.concat(chunks).toString('latin1')));
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', () => {});
    socket.write(data, 'latin1');
  });
}

function parseResponses(text: string): Answer[] {
  const out: Answer[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    rest = rest.slice(end + 4);
    let body = '';
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, lineEnd), 16);
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        rest = rest.slice(lineEnd + 2 + size + 2);
        if (size === 0 || Number.isNaN(size)) break;
      }
    } else {
      const length = Number(headers['content-length'] ?? rest.length);
      body = rest.slice(0, length);
      rest = rest.slice(length);
    }
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body });
  }
  if (rest !== '') out.push({ status: -1, headers: {}, body: rest });
  return out;
}

/** The one answer is `status` with the catalogue's JSON body `{"error":token}`, nothing of Fastify or Node. */
function assertCatalogue(answers: Answer[], status: number, token: string): void {
  assert.equal(answers.length, 1, `one answer, got ${JSON.stringify(answers)}`);
  const [a] = answers as [Answer];
  assert.equal(a.status, status, JSON.stringify(a));
  assert.match(a.headers['content-type'] ?? '', /^application\/json/);
  assert.deepEqual(JSON.parse(a.body), { error: token });
}

const SMUGGLED = 'GET /api/smuggled HTTP/1.1\r\nHost: a\r\n\r\n';

for (const [name, request] of [
  ['Content-Length and Transfer-Encoding together', `POST /api/a HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['two Content-Lengths that differ', `POST /api/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 44\r\n\r\nhello${SMUGGLED}`],
  ['Transfer-Encoding: chunked, identity', `POST /api/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['a space before the colon of Transfer-Encoding', `POST /api/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['Transfer-Encoding: xchunked', `POST /api/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['a bare CR that would start a header upstream', `GET /api/a HTTP/1.1\r\nHost: a\r\nX-A: b\rX-Injected: yes\r\n\r\n`],
] as const) {
  test(`smuggling: ${name} -> 400 from the catalogue, and the upstream sees no request`, async (t) => {
    const { up, gw } = await setup(t);
    assertCatalogue(await exchange(gw.port, request), 400, 'bad_request');
    assert.equal(up.seen.length, 0, JSON.stringify(up.seen.map((s) => s.url)));
  });
}

test('an absolute-form target naming another host is refused, never proxied there', async (t) => {
  const { up, gw } = await setup(t);
  assertCatalogue(await exchange(gw.port, 'GET http://evil.example/api/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), 400, 'bad_request');
  assert.equal(up.seen.length, 0);
});

test('encoded paths cannot climb out of the route prefix upstream', async (t) => {
  const { up, gw } = await setup(t);
  const tries = [
    '/api/%2e%2e/secret', '/api/%2E%2E%2Fsecret', '/api/..%2fsecret', '/api/%2e%2e%5csecret', '/api//..//secret',
    '/api/./%2e./secret', '//api/../../secret', '/api/%252e%252e/secret', '/api/x/%2e%2e/%2e%2e/%2e%2e/secret',
  ];
  for (const path of tries) {
    const [answer] = await exchange(gw.port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    assert.ok(answer !== undefined && [200, 400, 404].includes(answer.status), `${path}: ${JSON.stringify(answer)}`);
    if (answer.status !== 200) assert.match(answer.headers['content-type'] ?? '', /^application\/json/, path);
  }
  for (const seen of up.seen) {
    assert.match(seen.url, /^\/api(\/|$)/, 'every forwarded path is under the prefix');
    // Decoded once, as an upstream does: no ".." segment (a double-encoded one stays "%2e%2e", a name).
    assert.ok(!/(^|\/)\.\.(\/|$)/.test(decodeURIComponent(seen.url)), `no dot segment survives: ${seen.url}`);
  }
});

test('CRLF encoded in the path stays in the path: no header is made of it upstream', async (t) => {
  const { up, gw } = await setup(t);
  const [answer] = await exchange(gw.port, 'GET /api/a%0d%0aX-Injected:%20yes HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  assert.equal(answer?.status, 200);
  assert.equal(up.seen.length, 1);
  assert.equal(up.seen[0]!.headers['x-injected'], undefined);
  assert.match(up.seen[0]!.url, /%0D%0A/);
});

test('two Host fields -> 400 from the catalogue (RFC 9112 section 3.2), upstream untouched', async (t) => {
  const { up, gw } = await setup(t);
  assertCatalogue(await exchange(gw.port, 'GET /api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n'), 400, 'bad_request');
  assert.equal(up.seen.length, 0);
});

function manyFields(n: number): string {
  let fields = '';
  for (let i = 0; i < n; i++) fields += `x-f${i}: v${i}\r\n`;
  return fields;
}

test(`${MAX_HEADER_FIELDS} header fields are all forwarded; one more is 431, never a silent cut`, async (t) => {
  const { up, gw } = await setup(t);
  // Host and Connection count too.
  const [ok] = await exchange(gw.port, `GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n${manyFields(MAX_HEADER_FIELDS - 2)}\r\n`);
  assert.equal(ok?.status, 200);
  assert.equal(up.seen[0]!.headers[`x-f${MAX_HEADER_FIELDS - 3}`], `v${MAX_HEADER_FIELDS - 3}`, 'the last field arrived');
  assertCatalogue(await exchange(gw.port, `GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n${manyFields(MAX_HEADER_FIELDS)}\r\n`), 431, 'request_header_fields_too_large');
  assertCatalogue(await exchange(gw.port, `GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n${manyFields(2500)}\r\n`), 431, 'request_header_fields_too_large');
  const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
  assertCatalogue(await exchange(gw.port, `GET /api/x HTTP/1.1\r\nHost: a\r\n${h2c}${manyFields(2500)}\r\n`), 431, 'request_header_fields_too_large');
  assert.equal(up.seen.length, 1);
});

for (const [name, path] of [
  ['an overlong UTF-8 dot (%c0%ae) in a routed path', '/api/%c0%ae%c0%ae/secret'],
  ['an overlong UTF-8 dot in an unrouted path', '/%c0%ae'],
  ['a three-byte overlong dot', '/api/%e0%80%ae'],
  ['a byte that starts no UTF-8 sequence', '/api/%ff'],
] as const) {
  test(`${name} -> 400 from the catalogue, with nothing of Fastify or the mount path`, async (t) => {
    const { up, gw } = await setup(t);
    const answers = await exchange(gw.port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    assertCatalogue(answers, 400, 'bad_request');
    assert.ok(!answers[0]!.body.includes('__tg') && !answers[0]!.body.includes('FST_'), answers[0]!.body);
    assert.equal(up.seen.length, 0);
  });
}

test('curl --http2 on http://: the h2c upgrade offer is ignored and the request served, offer not forwarded', async (t) => {
  const { up, gw } = await setup(t);
  const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
  // A GET, a POST with a body, then a plain request on the same connection: keep-alive goes on.
  const answers = await exchange(
    gw.port,
    `GET /api/one HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8\r\n${h2c}\r\n` +
      `POST /api/two HTTP/1.1\r\nHost: a\r\n${h2c}Content-Length: 5\r\n\r\nhello` +
      'GET /api/three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  );
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200], JSON.stringify(answers));
  // Answered in order; pipelined requests may reach the upstream in any order.
  assert.deepEqual(answers.map((a) => JSON.parse(a.body).url), ['/api/one', '/api/two', '/api/three']);
  const seen = (url: string) => up.seen.find((s) => s.url === url)!;
  assert.equal(seen('/api/two').body.toString(), 'hello');
  for (const offered of [seen('/api/one'), seen('/api/two')]) {
    assert.equal(offered.headers.upgrade, undefined);
    assert.equal(offered.headers['http2-settings'], undefined);
    assert.doesNotMatch(offered.headers.connection ?? '', /upgrade|http2-settings/i);
  }
  assert.equal(seen('/api/one').headers['user-agent'], 'curl/8', 'the other fields are kept');
});

for (const [name, request] of [
  ['no Sec-WebSocket-Key', 'GET /api/ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n'],
  ['an unknown Sec-WebSocket-Version', 'GET /api/ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n'],
  ['a malformed Sec-WebSocket-Protocol', 'GET /api/ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a,,b\r\n\r\n'],
] as const) {
  test(`a WebSocket handshake with ${name} -> 400 from the catalogue, not the ws library's text`, async (t) => {
    const { up, gw } = await setup(t);
    assertCatalogue(await exchange(gw.port, request), 400, 'bad_request');
    assert.equal(up.seen.length, 0);
  });
}

test('a POST asking for a WebSocket is served as the POST it is', async (t) => {
  const { up, gw } = await setup(t);
  const answers = await exchange(gw.port, 'POST /api/ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\nContent-Length: 2\r\n\r\nhi');
  assert.deepEqual(answers.map((a) => a.status), [200]);
  assert.equal(up.seen[0]!.body.toString(), 'hi');
  assert.equal(up.seen[0]!.headers.upgrade, undefined);
});

test("Fastify's own errors map to catalogue entries by status", () => {
  assert.equal(frameworkErrorCode({ statusCode: 400 }), 'TG_ERR_REQUEST_BAD_PATH');
  assert.equal(frameworkErrorCode({ statusCode: 414 }), 'TG_ERR_REQUEST_BAD_PATH');
  assert.equal(frameworkErrorCode({ statusCode: 415 }), 'TG_ERR_REQUEST_BAD_PATH');
  assert.equal(frameworkErrorCode({ statusCode: 413 }), 'TG_ERR_REQUEST_BODY_TOO_LARGE');
  assert.equal(frameworkErrorCode({ statusCode: 431 }), 'TG_ERR_REQUEST_HEADERS_TOO_LARGE');
  assert.equal(frameworkErrorCode({ statusCode: 408 }), 'TG_ERR_REQUEST_TIMEOUT');
  assert.equal(frameworkErrorCode({ statusCode: 503 }), 'TG_ERR_INTERNAL');
  assert.equal(frameworkErrorCode({}), 'TG_ERR_INTERNAL');
});
