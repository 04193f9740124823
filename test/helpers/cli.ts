import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../../dist/cli.js', import.meta.url));

export function writeConfig(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tg-cli-')), 'config.yaml');
  writeFileSync(file, yaml);
  return file;
}

export interface Served {
  child: ChildProcessWithoutNullStreams;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs `throttlegate serve` as a real process on a free port; resolves once it listens. */
export function serve(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile, '--port', '0', '--host', '127.0.0.1'], {
    env: { ...process.env, ...env },
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start:\n${out}`));
    }, 10_000);
    let listening = false;
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (listening) return;
      const m = /throttlegate listening on (http:\/\/[^"\s]+)/.exec(out);
      if (m) {
        listening = true;
        clearTimeout(timer);
        resolve({ child, url: m[1] as string, output: () => out, exited });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => reject(new Error(`gateway exited:\n${out}`)));
  });
}

/** The JSON log lines in a gateway's output (anything else, like a stack trace, is skipped). */
export function logLines(output: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line still being written when output() was read
    }
  }
  return lines;
}
