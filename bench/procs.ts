/** Child-process bookkeeping for the runner: CPU pinning, start-until-ready, RSS, kill everything. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

export interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
}

const live = new Set<ChildProcess>();

/** True when `taskset` exists and there are at least two CPUs to pin to. */
export function canPin(): boolean {
  try {
    execFileSync('taskset', ['-cp', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return false;
  }
  const cpus = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? 1;
  return cpus >= 2;
}

/** Re-pins this process, all of its threads (-a), to one CPU. */
export function pinSelf(cpu: number): void {
  execFileSync('taskset', ['-a', '-cp', String(cpu), String(process.pid)], { stdio: 'ignore' });
}

/** Starts `node script args` (under `taskset -c cpu` when cpu is set) and waits for `ready PORT`. */
export function start(name: string, script: string, args: string[], cpu: number | undefined): Promise<Started> {
  return launch(name, [process.execPath, script, ...args], cpu, (line) => {
    const ready = /^ready (\d+)$/.exec(line.trim());
    return ready ? Number(ready[1]) : undefined;
  });
}

/**
 * Starts any command, tracked for killAll, and resolves once `readyPort`
 * recognises a stdout line and returns the port it listens on. stdout stays
 * drained afterwards, so a chatty child never blocks on a full pipe.
 */
export function launch(
  name: string,
  argv: string[],
  cpu: number | undefined,
  readyPort: (line: string) => number | undefined,
): Promise<Started> {
  const [cmd, ...rest] = cpu === undefined ? argv : ['taskset', '-c', String(cpu), ...argv];
  const child = spawn(cmd as string, rest, { stdio: ['pipe', 'pipe', 'inherit'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`${name}: not ready after 15 s`)), 15_000);
    child.on('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`${name} exited early (code ${code}, signal ${signal})`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const port = settled ? undefined : readyPort(line);
      if (port === undefined) return;
      settled = true;
      clearTimeout(timer);
      // taskset execs its command, so the pid is the node (or redis-server) process itself.
      resolve({ name, child, pid: child.pid as number, port });
    });
  });
}

/** Stops one child: SIGTERM, then SIGKILL after 2 s. */
export async function stop(started: Started): Promise<void> {
  const { child } = started;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
  await exited;
  clearTimeout(timer);
}

/** Synchronous last resort (exit, error, SIGINT): kill every child still running. */
export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/** Resident set size of a process in MB, from /proc/PID/status VmRSS. */
export function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) / 1024;
}

/** Per-CPU [busy, total] jiffies from /proc/stat, for CPU utilisation over an interval. */
export function cpuTimes(): [number, number][] {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l));
  return lines.map((line) => {
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
    return [busy, busy + (idle ?? 0) + (iowait ?? 0)];
  });
}

/** Percent busy per CPU between two cpuTimes() readings. */
export function busyPercent(before: [number, number][], after: [number, number][]): number[] {
  return after.map(([busy, total], i) => {
    const [busy0, total0] = before[i] ?? [0, 0];
    return total > total0 ? (100 * (busy - busy0)) / (total - total0) : 0;
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat (USER_HZ = 100 on Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * cpuSeconds of a process and every process below it (a gateway with
 * workers: the primary and its node:cluster workers), read from
 * /proc/PID/task/TID/children. A single process is just itself.
 */
export function treeCpuSeconds(pid: number): number {
  let total = cpuSeconds(pid);
  for (const child of childPids(pid)) total += treeCpuSeconds(child);
  return total;
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return []; // gone meanwhile
  }
}

/** A port free on 127.0.0.1 right now (a child told to listen on it may still lose a race for it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (address !== null && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
