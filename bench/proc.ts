/**
 * What the kernel counts for the bench's processes and for the machine, read from /proc (Linux): a
 * process's memory and CPU time, and the share of the machine's CPU time its hypervisor took (steal),
 * the usual reason two rounds of the same load differ on a virtual machine.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A process's memory, MiB: peak and current RSS, the anonymous part; and its threads. */
export interface Memory {
  peak: number;
  rss: number;
  anonymous: number;
  threads: number;
}

export function memoryOf(pid: number): Memory {
  const kib = (text: string, field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]) / 1024;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    peak: kib(status, 'VmHWM'),
    rss: kib(rollup, 'Rss'),
    anonymous: kib(rollup, 'Anonymous'),
    threads: readdirSync(`/proc/${pid}/task`).length,
  };
}

/** One of the clock ticks in which /proc counts CPU time, ms. */
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/**
 * CPU time, user and system, of all of a process's threads, ms, from a /proc/PID/stat line. The fields
 * are counted after the command's closing parenthesis, since the command itself may hold spaces and
 * parentheses: utime and stime are the stat line's 14th and 15th fields.
 */
export function cpuTimeMsOf(statLine: string): number {
  const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`unreadable /proc stat line: ${statLine}`);
  return ticks * TICK_MS;
}

export const cpuTimeMs = (pid: number) => cpuTimeMsOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));

/** The machine's CPU time since boot, in ticks: all of it, and the part the hypervisor took. */
export interface MachineTicks {
  total: number;
  steal: number;
}

/** From /proc/stat's first line: user nice system idle iowait irq softirq steal (guest time is within user). */
export function machineTicksOf(procStat: string): MachineTicks {
  const fields = /^cpu\s+(.*)$/m.exec(procStat)?.[1]?.trim().split(/\s+/).slice(0, 8).map(Number) ?? [];
  if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) throw new Error('unreadable /proc/stat');
  return { total: fields.reduce((sum, n) => sum + n, 0), steal: fields[7] as number };
}

export const machineTicks = () => machineTicksOf(readFileSync('/proc/stat', 'utf8'));

/** The share of the machine's CPU time the hypervisor took between two readings, 0 to 1. */
export function stealShare(before: MachineTicks, after: MachineTicks): number {
  const total = after.total - before.total;
  return total > 0 ? (after.steal - before.steal) / total : 0;
}
