import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, KubeObject } from './cluster';

export const NAMESPACE = 'two-tier-dev';
type Condition = { type: string; status: string };

/** A pod's Ready condition. */
export function isReady(pod: KubeObject): boolean {
  return Boolean(pod.status?.conditions?.some((c: Condition) => c.type === 'Ready' && c.status === 'True'));
}

const terminating = (pod: KubeObject) => Boolean((pod.metadata as { deletionTimestamp?: string }).deletionTimestamp);

/** The stack's pods of one component (web or database). */
export async function podsOf(cluster: Cluster, component?: string): Promise<KubeObject[]> {
  return (await cluster.list('pod', NAMESPACE)).filter(
    (pod) => !component || pod.metadata.labels?.['app.kubernetes.io/component'] === component,
  );
}

/** Pods of the stack (of one component), once every one of them is Ready and none is terminating. */
export async function readyPods(cluster: Cluster, component?: string, seconds = 120): Promise<KubeObject[]> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const pods = await podsOf(cluster, component);
    if (pods.length > 0 && pods.every((pod) => !terminating(pod) && isReady(pod))) return pods;
    if (Date.now() > deadline) {
      throw new Error(
        `pods${component ? ` of ${component}` : ''} not all Ready within ${seconds} s: ${pods
          .map((p) => `${p.metadata.name} ${p.status?.phase}${isReady(p) ? ' ready' : ''}`)
          .join(', ')}`,
      );
    }
    await sleep(500);
  }
}

/** Polls `check` until it holds; the error names what was awaited. */
export async function eventually(what: string, check: () => Promise<boolean>, seconds: number): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + seconds * 1000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${seconds} s`);
    await sleep(1000);
  }
  return (performance.now() - started) / 1000;
}

/** Runs a command in a pod's first container, with optional standard input. */
export function exec(cluster: Cluster, pod: KubeObject, command: string[], input?: string): Promise<string> {
  return cluster.kubectl(
    ['exec', ...(input === undefined ? [] : ['-i']), '-n', NAMESPACE, pod.metadata.name, '--', ...command],
    input,
  );
}

/** The database tier's pod; there must be one. */
export async function databasePod(cluster: Cluster): Promise<KubeObject> {
  const [pod] = await podsOf(cluster, 'database');
  if (!pod) throw new Error('no database pod');
  return pod;
}

/** Restarts and identity of the database pod: what a change that must not touch it would alter. */
export async function databaseIdentity(cluster: Cluster): Promise<string> {
  const pod = await databasePod(cluster);
  const restarts = (pod.status?.containerStatuses ?? []).map((s: { restartCount: number }) => s.restartCount);
  return `${pod.metadata.name} ${pod.metadata.uid} restarts ${restarts.join(',')}`;
}
