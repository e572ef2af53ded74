import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WEB_PORT } from '../../infra/web-tier';
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

/** Seconds since a `performance.now()`, for the steps' figures. */
export function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
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

/** Merges `patch` into one object of the stack's namespace, named `kind/name`. */
export async function mergePatch(cluster: Cluster, object: string, patch: object): Promise<void> {
  await cluster.kubectl(['patch', object, '-n', NAMESPACE, '--type=merge', '-p', JSON.stringify(patch)]);
}

/** Replaces a Deployment's pods (`deployment/name`); with `waitSeconds`, until the rollout is done. */
export async function restartRollout(cluster: Cluster, deployment: string, { waitSeconds = 0 } = {}): Promise<void> {
  await cluster.kubectl(['rollout', 'restart', deployment, '-n', NAMESPACE]);
  if (waitSeconds > 0)
    await cluster.kubectl(['rollout', 'status', deployment, '-n', NAMESPACE, `--timeout=${waitSeconds}s`]);
}

/** Waits until the web tier has settled after a change: every pod Ready, none terminating. */
export async function settle(cluster: Cluster): Promise<void> {
  await readyPods(cluster, 'web', 180);
}

export async function webPodNames(cluster: Cluster): Promise<string[]> {
  return (await readyPods(cluster, 'web')).map((pod) => pod.metadata.name);
}

/** A pod in the stack's namespace without the web tier's labels, allowed by the restricted standard. */
export async function probePod(cluster: Cluster, image: string): Promise<KubeObject> {
  const name = `policy-probe-${randomBytes(3).toString('hex')}`;
  await cluster.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { 'app.kubernetes.io/component': 'probe' } },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'probe',
          image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sleep', '600'],
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            readOnlyRootFilesystem: true,
          },
        },
      ],
    },
  });
  await cluster.kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '-n', NAMESPACE, '--timeout=120s']);
  return (await cluster.get('pod', name, NAMESPACE)) as KubeObject;
}

/**
 * A TCP connection from inside a pod, with Node.js (all a web image has) or bash: open, refused (nothing
 * listens) or dropped (no answer in 3 s: a NetworkPolicy at work).
 */
export async function connect(cluster: Cluster, pod: KubeObject, host: string, port: number): Promise<string> {
  const web = pod.metadata.labels?.['app.kubernetes.io/component'] === 'web';
  const command = web
    ? [
        'node',
        '-e',
        `const s=require('net').connect(${port},'${host}',()=>{console.log('open');s.destroy()});s.setTimeout(3000,()=>{console.log('dropped');s.destroy()});s.on('error',e=>console.log(e.code==='ECONNREFUSED'?'refused':'dropped'))`,
      ]
    : [
        'bash',
        '-c',
        `timeout 3 bash -c '</dev/tcp/${host}/${port}' 2>/dev/null; case $? in 0) echo open;; 124) echo dropped;; *) echo refused;; esac`,
      ];
  return (await exec(cluster, pod, command)).trim();
}

/** A GET on the pod's own port (the service's by default), printing the status and body. */
export function nodeFetch(path: string, port = WEB_PORT): string[] {
  return [
    'node',
    '-e',
    `fetch('http://127.0.0.1:${port}${path}').then(async r=>console.log(r.status, await r.text()),e=>console.log('error', e.message))`,
  ];
}
