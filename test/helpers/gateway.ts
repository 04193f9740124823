import { Writable } from 'node:stream';
import { buildGateway, parseConfig, type Gateway } from '../../src/index.js';
import { createLogger } from '../../src/observability/logging.js';
import type { LimitStore } from '../../src/limit/stores/store.js';
import { assertEditorSchemaAccepts } from './editor-schema.js';

export interface TestGateway {
  readonly url: string;
  readonly port: number;
  readonly gateway: Gateway;
  /** The admin API's base URL (port 0), when the config has `admin:`. */
  readonly adminUrl: string | undefined;
  /** Every JSON log line the gateway wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Access log lines only (one per request). */
  accessLines(): Record<string, unknown>[];
  close(): Promise<void>;
}

/** Builds a gateway from YAML text and listens on 127.0.0.1, port 0. */
export async function startGateway(yaml: string, options: { store?: LimitStore; env?: NodeJS.ProcessEnv } = {}): Promise<TestGateway> {
  const config = parseConfig(yaml, 'test.yaml', options.env ?? {});
  assertEditorSchemaAccepts(yaml);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger('info', sink);
  const gateway = await buildGateway(config, { logger, store: options.store, port: 0, adminPort: 0, host: '127.0.0.1' });
  const url = await gateway.listen();
  return {
    url,
    port: Number(new URL(url).port),
    gateway,
    adminUrl: gateway.adminUrl,
    logs,
    accessLines: () => logs.filter((l) => l.msg === 'request'),
    close: () => gateway.close(),
  };
}
