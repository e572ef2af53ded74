import { type DestinationStream, destination } from 'pino';

/**
 * Log lines are written to stdout asynchronously in batches of this size (one write per request cost
 * 14% of the CPU under load), at least every LOG_FLUSH_MS and on exit.
 */
const LOG_BUFFER_BYTES = 4096;
const LOG_FLUSH_MS = 100;

/** A person at a terminal reads the lines; pods, pipes and files get JSON for their collectors. */
export function readableLogs(stdout: { isTTY?: boolean }): boolean {
  return stdout.isTTY === true;
}

/**
 * Where the web tier logs: pino-pretty's one line per entry (time, level, message, then the fields)
 * on a terminal, otherwise JSON lines in batches.
 */
export async function logOutput(stdout: NodeJS.WriteStream = process.stdout): Promise<DestinationStream> {
  if (!readableLogs(stdout)) {
    return destination({ dest: 1, sync: false, minLength: LOG_BUFFER_BYTES, periodicFlush: LOG_FLUSH_MS });
  }
  // Loaded only here: the pods never pay for it.
  const { default: pretty } = await import('pino-pretty');
  return pretty({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true });
}
