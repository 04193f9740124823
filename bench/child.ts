/**
 * Helpers for the benchmark's child processes (origin and targets): parse the
 * port argument, announce readiness on stdout, and exit when the parent goes
 * away (stdin closes), so a crashed or killed runner leaves no stray process.
 */
export function portArg(name: string): number {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`usage: node ${name} PORT\n`);
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
