/**
 * What a stack leaves in its namespace: the report of why its pods are failing, printed when a step
 * or an `up` fails, and the wait until a destroyed stack's namespace and volumes are gone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, KubeObject } from './cluster';
import { isReady } from './workloads';

/** As much of a cluster as the report and the wait read: a real Cluster, or a stand-in in unit tests. */
export type ClusterReader = Pick<Cluster, 'get' | 'list' | 'kubectl'>;

/** How much of a failing namespace the report prints. */
export const REPORT_LIMITS = { logLines: 80, lineLength: 400, events: 40 };

interface ContainerStatus {
  name: string;
  restartCount?: number;
  state?: Record<string, { reason?: string; exitCode?: number; message?: string } | undefined>;
  lastState?: { terminated?: { reason?: string; exitCode?: number; finishedAt?: string } };
}

/**
 * Each pod of the namespace that is not Ready (its conditions, each container's state, its current and
 * previous logs, the last lines only) and the namespace's most recent events.
 */
export async function failureReport(
  cluster: ClusterReader,
  namespace: string,
  limits = REPORT_LIMITS,
): Promise<string> {
  const lines = [`what namespace ${namespace} says about the failure:`];
  const pods = await cluster.list('pod', namespace).catch((error: Error) => error);
  if (pods instanceof Error) lines.push(`  its pods could not be listed: ${firstLine(pods)}`);
  else {
    const failing = pods.filter((pod) => !isReady(pod) || pod.metadata.deletionTimestamp);
    if (pods.length === 0) lines.push('  no pods');
    else if (failing.length === 0) lines.push(`  every pod Ready (${pods.length})`);
    for (const pod of failing) lines.push(...(await podReport(cluster, namespace, pod, limits)));
  }
  lines.push(...(await eventReport(cluster, namespace, limits.events)));
  return lines.join('\n');
}

async function podReport(
  cluster: ClusterReader,
  namespace: string,
  pod: KubeObject,
  limits: typeof REPORT_LIMITS,
): Promise<string[]> {
  const name = pod.metadata.name;
  const conditions = (pod.status?.conditions ?? [])
    .filter((c: { status: string }) => c.status !== 'True')
    .map((c: { type: string; reason?: string; message?: string }) =>
      [c.type, c.reason, c.message].filter(Boolean).join(' '),
    );
  const lines = [
    `pod ${name}: ${pod.status?.phase ?? 'no phase'}, ${isReady(pod) ? 'Ready' : 'not Ready'}${pod.metadata.deletionTimestamp ? ', terminating' : ''}${conditions.length ? `; ${conditions.join('; ')}` : ''}`,
  ];
  const statuses: ContainerStatus[] = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
  if (statuses.length === 0) lines.push('  no container started yet');
  for (const status of statuses) {
    const [state = 'unknown', detail] = Object.entries(status.state ?? {})[0] ?? [];
    const why = detail && [
      detail.reason,
      detail.exitCode === undefined ? '' : `exit ${detail.exitCode}`,
      detail.message,
    ];
    const last = status.lastState?.terminated;
    lines.push(
      `  container ${status.name}: ${state}${why ? ` ${why.filter(Boolean).join(', ')}` : ''}; restarts ${status.restartCount ?? 0}${last ? `; last ended ${last.reason ?? ''} exit ${last.exitCode} at ${last.finishedAt ?? '?'}` : ''}`,
    );
    lines.push(...(await logs(cluster, namespace, name, status.name, false, limits)));
    if (last || (status.restartCount ?? 0) > 0)
      lines.push(...(await logs(cluster, namespace, name, status.name, true, limits)));
  }
  return lines;
}

async function logs(
  cluster: ClusterReader,
  namespace: string,
  pod: string,
  container: string,
  previous: boolean,
  limits: typeof REPORT_LIMITS,
): Promise<string[]> {
  const which = previous ? 'previous container' : 'current container';
  try {
    const text = await cluster.kubectl([
      'logs',
      '-n',
      namespace,
      pod,
      '-c',
      container,
      `--tail=${limits.logLines}`,
      ...(previous ? ['--previous'] : []),
    ]);
    const all = text.split('\n').filter((line) => line.length > 0);
    const kept = all.slice(-limits.logLines).map((line) => `    | ${line.slice(0, limits.lineLength)}`);
    return [`  ${container}, ${which}, last ${kept.length} line(s) of its log:`, ...kept];
  } catch (error) {
    return [`  ${container}, ${which}: no log (${firstLine(error)})`];
  }
}

async function eventReport(cluster: ClusterReader, namespace: string, count: number): Promise<string[]> {
  const events = await cluster.list('event', namespace).catch((error: Error) => error);
  if (events instanceof Error) return [`events: could not be listed: ${firstLine(events)}`];
  const time = (event: KubeObject) =>
    String(
      (event as { lastTimestamp?: string; eventTime?: string }).lastTimestamp ??
        (event as { eventTime?: string }).eventTime ??
        '',
    );
  const recent = events.sort((a, b) => time(a).localeCompare(time(b))).slice(-count);
  return [
    `events: the last ${recent.length} of ${events.length}:`,
    ...recent.map((event) => {
      const {
        type,
        reason,
        message,
        count: seen,
        involvedObject,
      } = event as unknown as {
        type?: string;
        reason?: string;
        message?: string;
        count?: number;
        involvedObject?: { kind?: string; name?: string };
      };
      return `  ${time(event)} ${type ?? ''} ${reason ?? ''} ${involvedObject?.kind}/${involvedObject?.name}: ${String(message ?? '').slice(0, 400)}${(seen ?? 1) > 1 ? ` (x${seen})` : ''}`;
    }),
  ];
}

/** Failures already reported: an `up` that failed inside a step is reported once, not twice. */
const reported = new WeakSet<object>();

/** Prints the failure report for `error`, once for each error. */
export async function reportFailure(
  cluster: ClusterReader,
  namespace: string,
  error: unknown,
  print: (text: string) => void = console.log,
): Promise<void> {
  if (typeof error === 'object' && error !== null) {
    if (reported.has(error)) return;
    reported.add(error);
  }
  print(await failureReport(cluster, namespace));
}

/** What is left of a namespace and the volumes its claims were bound to. */
export async function leftovers(cluster: ClusterReader, namespace: string): Promise<string[]> {
  const left: string[] = [];
  const object = await cluster.get('namespace', namespace);
  if (object) {
    const why = (object.status?.conditions ?? [])
      .filter((c: { status: string }) => c.status === 'True')
      .map((c: { message?: string }) => c.message);
    left.push(`namespace ${namespace} (${[object.status?.phase ?? 'Active', ...why].join('; ')})`);
  }
  for (const volume of await cluster.list('persistentvolume')) {
    const claim = volume.spec?.claimRef;
    if (claim?.namespace === namespace)
      left.push(
        `persistentvolume ${volume.metadata.name} (${volume.status?.phase ?? 'no phase'}, claim ${claim.name})`,
      );
  }
  return left;
}

/**
 * Waits until a namespace and its volumes are gone, so the next stack starts on a clean cluster;
 * after `seconds` the error names what remains. Returns how long it waited, s.
 */
export async function namespaceGone(
  cluster: ClusterReader,
  namespace: string,
  { seconds = 300, pollMs = 2000 } = {},
): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const left = await leftovers(cluster, namespace);
    if (left.length === 0) return (performance.now() - started) / 1000;
    if (Date.now() >= deadline)
      throw new Error(
        `${namespace} not gone within ${seconds} s, so the next stack would not start clean; what remains: ${left.join('; ')}`,
      );
    await sleep(pollMs);
  }
}

function firstLine(error: unknown): string {
  const { stderr, message } = error as { stderr?: string; message?: string };
  return String(stderr || message || error).split('\n')[0];
}
