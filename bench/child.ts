/**
 * Helpers for the benchmark's child processes (origin and targets): parse the
 * port argument, announce readiness on stdout, and exit when the parent goes
 * away (stdin closes), so a crashed or killed runner leaves no stray process.
 */

/** The port in argv[position]: 2 is the first argument (the origin's), 3 the second (Redis's). */
export function portArg(name: string, position = 2): number {
  const port = Number(process.argv[position]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`usage: node ${name} ${position === 2 ? 'PORT' : 'ORIGIN_PORT REDIS_PORT'}\n`);
    process.exit(2);
  }
  return port;
}

export function announce(port: number): void {
  process.stdout.write(`ready ${port}\n`);
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

export function fail(err: unknown): never {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}

/** The port of a listening server's address (fastify's app.server.address()). */
export function portOf(address: unknown): number {
  if (address !== null && typeof address === 'object' && 'port' in address) return Number(address.port);
  throw new Error(`unexpected listen address ${String(address)}`);
}
