import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from './e2e/cluster';
import { type ClusterReader, failureReport, namespaceGone, REPORT_LIMITS, reportFailure } from './e2e/namespace';

/**
 * The lifecycle's report of a failing namespace and its wait for a destroyed one, against a stand-in for
 * the cluster: objects by kind, and the container logs `kubectl logs` would print.
 */
class FakeCluster implements ClusterReader {
  readonly calls: string[][] = [];
  constructor(
    readonly objects: Record<string, KubeObject[]>,
    readonly logs: Record<string, string> = {},
  ) {}

  async get(resource: string, name: string): Promise<KubeObject | undefined> {
    return (this.objects[resource] ?? []).find((object) => object.metadata.name === name);
  }

  async list(resource: string): Promise<KubeObject[]> {
    return structuredClone(this.objects[resource] ?? []);
  }

  async kubectl(args: string[]): Promise<string> {
    this.calls.push(args);
    assert.equal(args[0], 'logs', `only logs are read with kubectl: ${args.join(' ')}`);
    const [pod, , container] = args.slice(3);
    const key = `${pod}/${container}${args.includes('--previous') ? ' previous' : ''}`;
    const text = this.logs[key];
    if (text === undefined)
      throw Object.assign(new Error('Command failed'), {
        stderr: `previous terminated container "${container}" not found`,
      });
    return text;
  }
}

const meta = (name: string) => ({ name, uid: `uid-${name}`, resourceVersion: '1' });

function pod(name: string, status: object): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: meta(name), status };
}

const crashLooping = pod('db-mongodb-0', {
  phase: 'Running',
  conditions: [
    {
      type: 'Ready',
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [mongodb]',
    },
  ],
  containerStatuses: [
    {
      name: 'mongodb',
      restartCount: 4,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1m20s restarting failed container' } },
      lastState: { terminated: { reason: 'Error', exitCode: 137, finishedAt: '2026-01-01T00:09:00Z' } },
    },
  ],
});
const readyWeb = pod('web-1', {
  phase: 'Running',
  conditions: [{ type: 'Ready', status: 'True' }],
  containerStatuses: [{ name: 'web', restartCount: 0, state: { running: {} } }],
});

const lines = (count: number, label: string) =>
  Array.from({ length: count }, (_, index) => `${label} line ${index + 1}`).join('\n');

function event(index: number, reason: string, message: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: meta(`event-${index}`),
    ...{
      type: 'Warning',
      reason,
      message,
      lastTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
      involvedObject: { kind: 'Pod', name: 'db-mongodb-0' },
    },
  } as KubeObject;
}

describe('the report a failed lifecycle step prints', () => {
  const events = Array.from({ length: 100 }, (_, index) => event(index, `Reason${index}`, `event number ${index}`));
  // Listed newest first, as the API server may: the report orders them itself.
  events.reverse();
  const cluster = new FakeCluster(
    { pod: [readyWeb, crashLooping], event: events },
    {
      'db-mongodb-0/mongodb': lines(200, 'current'),
      'db-mongodb-0/mongodb previous': `${lines(199, 'previous')}\nthe entrypoint exited: mongosh failed`,
      'web-1/web': 'a ready pod is not reported',
    },
  );

  test('names each not-Ready pod, its reason and the exit code of its previous container', async () => {
    const report = await failureReport(cluster, 'two-tier-dev');
    assert.match(report, /pod db-mongodb-0: Running, not Ready; Ready ContainersNotReady/);
    assert.match(
      report,
      /container mongodb: waiting CrashLoopBackOff, back-off 1m20s restarting failed container; restarts 4; last ended Error exit 137/,
    );
    assert.doesNotMatch(report, /web-1/, 'a Ready pod is left out');
  });

  test("prints the current and the previous container's logs, the last lines of each only", async () => {
    const report = await failureReport(cluster, 'two-tier-dev');
    const current = report.split('\n').filter((line) => /\| current line/.test(line));
    const previous = report.split('\n').filter((line) => /\| previous line/.test(line));
    assert.equal(current.length, REPORT_LIMITS.logLines, 'the current log is cut to its last lines');
    assert.match(current.at(-1) ?? '', /current line 200$/);
    assert.match(report, /\| the entrypoint exited: mongosh failed/, "the previous container's last line is there");
    assert.equal(previous.length, REPORT_LIMITS.logLines - 1);
    assert.match(report, /mongodb, previous container, last 80 line\(s\) of its log:/);
    const logCalls = cluster.calls.filter((args) => args[3] === 'db-mongodb-0');
    assert.ok(
      logCalls.every((args) => args.includes(`--tail=${REPORT_LIMITS.logLines}`)),
      'kubectl is asked for the tail only',
    );
  });

  test('prints the most recent events only, oldest of them first', async () => {
    const report = await failureReport(cluster, 'two-tier-dev');
    const printed = report.split('\n').filter((line) => /event number/.test(line));
    assert.equal(printed.length, REPORT_LIMITS.events);
    assert.match(printed[0], /Warning Reason60 Pod\/db-mongodb-0: event number 60$/);
    assert.match(printed.at(-1) ?? '', /event number 99$/);
    assert.match(report, /events: the last 40 of 100:/);
  });

  test('is bounded however long the logs and messages are', async () => {
    const huge = new FakeCluster(
      { pod: [crashLooping], event: [event(1, 'Killing', 'x'.repeat(100_000))] },
      { 'db-mongodb-0/mongodb': 'y'.repeat(1_000_000), 'db-mongodb-0/mongodb previous': lines(10_000, 'z') },
    );
    const report = await failureReport(huge, 'two-tier-dev');
    assert.ok(report.length < 50_000, `the report is ${report.length} characters`);
  });

  test('says so when a container has no previous log, and when nothing can be listed', async () => {
    const fresh = new FakeCluster(
      {
        pod: [
          pod('db-mysql-0', {
            phase: 'Pending',
            conditions: [
              { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'Insufficient memory' },
            ],
          }),
          {
            ...crashLooping,
            status: {
              ...crashLooping.status,
              containerStatuses: [{ ...crashLooping.status.containerStatuses[0], lastState: {}, restartCount: 1 }],
            },
          },
        ],
      },
      { 'db-mongodb-0/mongodb': 'starting' },
    );
    const report = await failureReport(fresh, 'two-tier-dev');
    assert.match(
      report,
      /pod db-mysql-0: Pending, not Ready; PodScheduled Unschedulable Insufficient memory\n {2}no container started yet/,
    );
    assert.match(report, /mongodb, previous container: no log \(previous terminated container "mongodb" not found\)/);

    const down: ClusterReader = {
      get: async () => undefined,
      list: async () => {
        throw Object.assign(new Error('Command failed'), { stderr: 'The connection to the server was refused' });
      },
      kubectl: async () => '',
    };
    assert.match(
      await failureReport(down, 'two-tier-dev'),
      /its pods could not be listed: The connection to the server was refused/,
    );
  });

  test('is printed once for an error, whether the up or the step that ran it reports it', async () => {
    const printed: string[] = [];
    const error = new Error('up failed');
    await reportFailure(cluster, 'two-tier-dev', error, (text) => printed.push(text));
    await reportFailure(cluster, 'two-tier-dev', error, (text) => printed.push(text));
    await reportFailure(cluster, 'two-tier-dev', new Error('another failure'), (text) => printed.push(text));
    assert.equal(printed.length, 2);
    assert.match(printed[0], /pod db-mongodb-0/);
  });
});

describe('the wait for a destroyed stack before the next one begins', () => {
  const terminating: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: meta('two-tier-dev'),
    status: {
      phase: 'Terminating',
      conditions: [
        {
          type: 'NamespaceContentRemaining',
          status: 'True',
          message: 'Some resources are remaining: pods. has 1 resource instances',
        },
      ],
    },
  };
  const volume = (name: string, namespace: string, phase: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: meta(name),
    spec: { claimRef: { namespace, name: 'db-mysql-data' } },
    status: { phase },
  });

  test('returns once the namespace and the volumes of its claims are gone', async () => {
    const cluster = new FakeCluster({
      namespace: [terminating],
      persistentvolume: [volume('pvc-1', 'two-tier-dev', 'Released'), volume('pvc-other', 'elsewhere', 'Bound')],
    });
    let polls = 0;
    const list = cluster.list.bind(cluster);
    cluster.list = async (resource: string) => {
      polls++;
      if (polls === 3) cluster.objects.namespace = [];
      if (polls === 5) cluster.objects.persistentvolume = [volume('pvc-other', 'elsewhere', 'Bound')];
      return list(resource);
    };
    await namespaceGone(cluster, 'two-tier-dev', { seconds: 5, pollMs: 10 });
    assert.equal(polls, 5, 'it waited until the volume was gone too, and no longer');
  });

  test('fails after its bound, naming the namespace and each volume that remains', async () => {
    const cluster = new FakeCluster({
      namespace: [terminating],
      persistentvolume: [volume('pvc-1', 'two-tier-dev', 'Released')],
    });
    const started = Date.now();
    await assert.rejects(namespaceGone(cluster, 'two-tier-dev', { seconds: 0.2, pollMs: 20 }), (error: Error) => {
      assert.match(error.message, /two-tier-dev not gone within 0.2 s/);
      assert.match(
        error.message,
        /namespace two-tier-dev \(Terminating; Some resources are remaining: pods\. has 1 resource instances\)/,
      );
      assert.match(error.message, /persistentvolume pvc-1 \(Released, claim db-mysql-data\)/);
      return true;
    });
    assert.ok(Date.now() - started < 2000, 'the wait is bounded');
  });

  test('returns at once when nothing is left', async () => {
    const cluster = new FakeCluster({ persistentvolume: [volume('pvc-other', 'elsewhere', 'Bound')] });
    assert.ok((await namespaceGone(cluster, 'two-tier-dev', { seconds: 1, pollMs: 10 })) < 1);
  });
});
