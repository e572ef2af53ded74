import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** What one wrk run measured. */
export interface Load {
  requestsPerSecond: number;
  /** Requests answered in all. */
  requests: number;
  /** Latency percentiles, ms. */
  p50: number;
  p99: number;
  /** Non-2xx answers and socket errors. */
  errors: number;
}

/** wrk's latency figures ("1.23ms", "850.00us", "1.02s") in milliseconds. */
function milliseconds(text: string): number {
  const [, value, unit] = /^([\d.]+)(us|ms|s)$/.exec(text) ?? [];
  const factor = unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1;
  return Number(value) * factor;
}

/**
 * One wrk run in its own process (one thread), bounded by `seconds`; `script` is a Lua file for other
 * methods; `signal` ends it early (the promise then rejects).
 */
export async function wrk(
  url: string,
  options: { connections: number; seconds: number; script?: string; signal?: AbortSignal },
): Promise<Load> {
  const args = [
    '-t1',
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--latency',
    ...(options.script ? ['-s', options.script] : []),
  ];
  const { stdout } = await promisify(execFile)('wrk', [...args, url], { signal: options.signal });
  // wrk pads its figures: a p99 of a second or more reads "99%    1.18s ".
  const percentile = (p: number) => milliseconds(new RegExp(`^\\s+${p}%\\s+(\\S+)\\s*$`, 'm').exec(stdout)?.[1] ?? '');
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout) ?? [];
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const result = {
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]),
    requests: Number(/(\d+) requests in /.exec(stdout)?.[1]),
    p50: percentile(50),
    p99: percentile(99),
    errors: non2xx + socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0),
  };
  if (!Number.isFinite(result.requestsPerSecond + result.requests + result.p50 + result.p99))
    throw new Error(`unreadable wrk output:\n${stdout}`);
  return result;
}
