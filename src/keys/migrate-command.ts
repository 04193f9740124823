import pg from 'pg';
import type { GatewayConfig } from '../config/types.js';
import { migrate } from './migrate.js';
import { errorText } from './store.js';

export { MIGRATE_HELP } from './migrate-help.js';



/** `config`: the file, loaded and validated by the CLI. */
export async function runMigrateCommand(file: string, config: GatewayConfig): Promise<number> {
  if (config.keyStore.type !== 'postgres') {
    console.error(`throttlegate migrate: ${file} keeps its keys in the config file (key_store.type is not postgres): nothing to migrate`);
    return 1;
  }
  const { url, where, schema } = config.keyStore.postgres;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'throttlegate-migrate' });
  client.on('error', () => {});
  try {
    await client.connect();
    const result = await migrate(client, schema);
    console.log(
      result.applied.length === 0
        ? `schema ${schema} at ${where} is up to date (version ${result.version})`
        : `schema ${schema} at ${where}: applied ${result.applied.join(', ')} (now version ${result.version})`,
    );
    return 0;
  } catch (err) {
    console.error(`throttlegate migrate: PostgreSQL at ${where}: ${errorText(err)}`);
    return 1;
  } finally {
    await client.end().catch(() => {});
  }
}
