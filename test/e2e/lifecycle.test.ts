/**
 * The dev stack's whole life on the real Pulumi engine (CLI, Node.js language host, Kubernetes
 * provider, the policy pack): preview with the policy pack, up, a second preview from another
 * checkout, an image update, a password change, an engine switch, the url, and destroy, once for
 * each engine. `npm run e2e`.
 *
 * By default against a real Kubernetes API server whose nodes KWOK fakes (the offline toolchain of
 * scripts/toolchain.sh, the image given by `webImage`). With E2E_KUBE_CONTEXT, against that context
 * of $KUBECONFIG (a kind cluster created with the README's port mapping), with the `pulumi` on PATH,
 * building and loading the image, and opening the exported url.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { EngineEvent, Stack } from '@pulumi/pulumi/automation';
import { runProgram } from '../support/program';
import { toolchain } from '../support/toolchain';
import { Cluster, type KubeObject, KwokCluster } from './cluster';
import { copyProject, devStack, projectConfig } from './project';

type Engine = 'mysql' | 'mongodb';
const NAMESPACE = 'two-tier-dev';
const NODE_PORT = 30004;
const VOLUMES = 8;

const EXISTING_CONTEXT = process.env.E2E_KUBE_CONTEXT;
let cluster: Cluster;

before(async () => {
  if (EXISTING_CONTEXT) {
    cluster = new Cluster('kubectl', process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config'), EXISTING_CONTEXT);
    return;
  }
  cluster = await KwokCluster.create(toolchain(), 2);
  // What kind ships: a default class that binds where the pod lands. Nothing provisions here, so
  // static volumes stand in for the provisioner; Retain shows which ones the stack bound.
  await cluster.apply({
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'kubernetes.io/no-provisioner',
    volumeBindingMode: 'WaitForFirstConsumer',
  });
  for (let index = 0; index < VOLUMES; index++) {
    await cluster.apply({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `e2e-volume-${index}` },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: 'standard',
        hostPath: { path: `/var/lib/e2e-volume-${index}` },
      },
    });
  }
});

after(async () => {
  if (cluster instanceof KwokCluster) await cluster.delete();
});

for (const engine of ['mysql', 'mongodb'] as const) {
  describe(`the dev stack on ${engine}`, { concurrency: 1 }, () => lifecycle(engine));
}

function lifecycle(first: Engine): void {
  const other: Engine = first === 'mysql' ? 'mongodb' : 'mysql';
  const offline = !EXISTING_CONTEXT;
  const config: Record<string, string> = {
    dbEngine: first,
    kubeContext: '',
    // Offline nothing can build an image; KWOK runs none anyway.
    ...(offline ? { webImage: 'registry.example.com/two-tier/web:1.0.0' } : {}),
  };
  const secrets = { dbPassword: randomSecret(), dbRootPassword: randomSecret() };
  let stateFolder: string;
  let checkout: string;
  let stack: Stack;
  let failed = false;

  /** Each step is a test; after a failure the rest say so instead of running on a broken stack. */
  const step = (name: string, body: (t: TestContext) => Promise<void>) =>
    test(name, async (t) => {
      if (failed) return t.skip('an earlier step failed');
      const started = performance.now();
      try {
        await body(t);
      } catch (error) {
        failed = true;
        throw new Error(`${name}: ${diagnostic(error)}`, { cause: error });
      }
      t.diagnostic(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    });

  before(async () => {
    config.kubeContext = cluster.context;
    stateFolder = await mkdtemp(join(tmpdir(), 'two-tier-state-'));
    checkout = await copyProject();
    stack = await devStack(checkout, { stateFolder, kubeconfig: cluster.kubeconfig, offline });
    await stack.setAllConfig(projectConfig(config, secrets));
  });

  after(async () => {
    if (failed && stack) await stack.destroy().catch(() => undefined);
    await rm(stateFolder, { recursive: true, force: true });
    await rm(checkout, { recursive: true, force: true });
  });

  step(
    '1. preview with the policy pack passes; a non-compliant setting is refused by a mandatory policy',
    async (t) => {
      const started = performance.now();
      const preview = await stack.preview({ policyPacks: [join(checkout, 'policy')] });
      const seconds = (performance.now() - started) / 1000;
      assert.ok((preview.changeSummary.create ?? 0) > 0, 'the first preview plans to create the stack');
      t.diagnostic(
        `checked: preview plans ${preview.changeSummary.create} creations and no policy violation; it took ${seconds.toFixed(1)} s`,
      );
      const plain = performance.now();
      await stack.preview();
      t.diagnostic(`timed: preview without the policy pack ${((performance.now() - plain) / 1000).toFixed(1)} s`);
      const evaluation = performance.now();
      await declaredObjects(config, secrets);
      t.diagnostic(
        `timed: the program's evaluation alone, under mocks ${((performance.now() - evaluation) / 1000).toFixed(1)} s`,
      );

      await stack.setConfig('two-tier:webMinReplicas', { value: '1' });
      try {
        await assert.rejects(
          stack.preview({ policyPacks: [join(checkout, 'policy')] }),
          (error: Error) => /hpa-min-replicas/.test(String(error)) && /mandatory/.test(String(error)),
          'a web tier with one replica fails the preview on the mandatory hpa-min-replicas policy',
        );
      } finally {
        await stack.removeConfig('two-tier:webMinReplicas');
      }
      t.diagnostic('checked: webMinReplicas 1 is refused by the mandatory policy hpa-min-replicas');
    },
  );

  step(
    '2. up creates every object the program declares, admitted as restricted, and exports the NodePort url',
    async (t) => {
      const up = await stack.up();
      assert.equal(up.summary.result, 'succeeded');

      const expected = await declaredObjects(config, secrets);
      assert.ok(expected.length >= 10, `the program declares the tiers' objects (found ${expected.length})`);
      for (const object of expected) {
        assert.ok(
          await cluster.get(object.resource, object.name, object.namespace),
          `the API server holds ${object.resource} ${object.namespace ?? ''}/${object.name}`,
        );
      }
      t.diagnostic(`checked: the API server holds all ${expected.length} Kubernetes objects the program declares`);

      const namespace = await cluster.get('namespace', NAMESPACE);
      assert.equal(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
      await assert.rejects(
        cluster.kubectl([
          'run',
          'privileged-probe',
          `--namespace=${NAMESPACE}`,
          '--image=registry.example.com/probe:1',
          '--dry-run=server',
          '--overrides={"spec":{"containers":[{"name":"probe","image":"registry.example.com/probe:1","securityContext":{"privileged":true}}]}}',
        ]),
        /violates PodSecurity "restricted/,
        'the namespace refuses a privileged pod: PodSecurity admission is enforcing',
      );
      const pods = await readyPods();
      assert.ok(pods.some((pod) => pod.metadata.labels?.['app.kubernetes.io/component'] === 'web'));
      assert.ok(pods.some((pod) => pod.metadata.labels?.['app.kubernetes.io/component'] === 'database'));
      t.diagnostic(
        `checked: ${pods.length} pods admitted under enforce=restricted and Ready; a privileged pod is refused`,
      );

      assert.equal(up.outputs.url?.value, `http://localhost:${NODE_PORT}`);
      const services = await cluster.list('service', NAMESPACE);
      assert.ok(
        services.some((service) => service.spec.type === 'NodePort' && service.spec.ports[0].nodePort === NODE_PORT),
        `a NodePort Service on ${NODE_PORT} backs the url`,
      );
      if (config.webImage) assert.equal(up.outputs.image?.value, config.webImage);
      t.diagnostic(
        `checked: url ${up.outputs.url?.value}, a NodePort Service on ${NODE_PORT}; up took ${up.summary.endTime.getTime() - up.summary.startTime.getTime()} ms`,
      );
    },
  );

  step('3. a second preview from a fresh checkout of the repository reports no changes', async (t) => {
    const otherCheckout = await copyProject();
    try {
      await writeFile(join(otherCheckout, 'Pulumi.dev.yaml'), await readFile(join(checkout, 'Pulumi.dev.yaml')));
      const again = await devStack(otherCheckout, { stateFolder, kubeconfig: cluster.kubeconfig, offline });
      const changes: string[] = [];
      const preview = await again.preview({
        policyPacks: [join(otherCheckout, 'policy')],
        diff: true,
        onEvent: (event: EngineEvent) => {
          const step = event.resourcePreEvent?.metadata;
          if (step && step.op !== 'same')
            changes.push(`${step.op} ${step.urn.split('::').pop()} (${step.diffs?.join(', ')})`);
        },
      });
      assert.deepEqual(changes, [], `a second preview from ${otherCheckout} plans no change`);
      t.diagnostic(`checked: ${preview.changeSummary.same} resources unchanged from another folder`);
    } finally {
      await rm(otherCheckout, { recursive: true, force: true });
    }
  });

  step('4. a new image updates only the Deployment, which rolls; the database is untouched', async (t) => {
    const before = await databaseState();
    const webBefore = await webPodNames();
    if (offline) {
      config.webImage = 'registry.example.com/two-tier/web:1.0.1';
      await stack.setConfig('two-tier:webImage', { value: config.webImage });
    } else {
      // A source change: the image is rebuilt under a new content tag and loaded again.
      await appendFile(join(checkout, 'service', 'src', 'server.ts'), '// a change to the service\n');
    }

    const changed = await upChanges(stack);
    const outsideTheImage = changed.filter((change) => !/ (docker|command):/.test(change));
    assert.deepEqual(outsideTheImage, ['update kubernetes:apps/v1:Deployment'], 'only the web Deployment changes');
    assert.deepEqual(await databaseState(), before, 'the StatefulSet, the Secret and the claim are the same objects');
    const webAfter = await webPodNames();
    assert.ok(
      webAfter.every((name) => !webBefore.includes(name)),
      'every web pod was replaced',
    );
    const image = String((await stack.outputs()).image?.value);
    for (const pod of await readyPods('web')) assert.equal(pod.spec.containers[0].image, image);
    t.diagnostic(`checked: ${changed.join(', ')}; ${webAfter.length} new web pods run ${image}`);
  });

  step(
    '5. a new dbPassword updates the Secret in place and rolls the web pods; the database is untouched',
    async (t) => {
      const secretBefore = await cluster.list('secret', NAMESPACE);
      const webBefore = await webPodNames();
      secrets.dbPassword = randomSecret();
      await stack.setConfig('two-tier:dbPassword', { value: secrets.dbPassword, secret: true });

      const database = await cluster.list('statefulset', NAMESPACE);
      const changed = await upChanges(stack);
      assert.deepEqual(
        changed,
        ['update kubernetes:apps/v1:Deployment', 'update kubernetes:core/v1:Secret'],
        'the Secret is updated in place and the web Deployment rolls; nothing is replaced',
      );
      assert.deepEqual(await cluster.list('statefulset', NAMESPACE), database, 'the database StatefulSet is untouched');
      const secretAfter = await cluster.list('secret', NAMESPACE);
      assert.notDeepEqual(fingerprint(secretAfter), fingerprint(secretBefore), 'the Secret holds a new value');
      const webAfter = await webPodNames();
      assert.ok(
        webAfter.every((name) => !webBefore.includes(name)),
        'every web pod was replaced, so none keeps the old password',
      );
      t.diagnostic(`checked: ${changed.join(', ')}; ${webAfter.length} new web pods`);
    },
  );

  step(`6. switching dbEngine from ${first} to ${other} on the live stack completes`, async (t) => {
    config.dbEngine = other;
    await stack.setConfig('two-tier:dbEngine', { value: other });
    const started = performance.now();
    const up = await stack.up();
    const seconds = (performance.now() - started) / 1000;
    assert.equal(up.summary.result, 'succeeded');
    assert.ok(seconds < 300, `the switch took ${seconds.toFixed(0)} s, under the five minutes of a stuck volume`);
    const statefulSets = await cluster.list('statefulset', NAMESPACE);
    assert.deepEqual(
      statefulSets.map((set) => set.metadata.name),
      [`db-${other}`],
      `only the ${other} StatefulSet is left`,
    );
    assert.equal(statefulSets[0]?.status.readyReplicas, 1);
    assert.equal(up.outputs.dbEngine?.value, other);
    t.diagnostic(`checked: ${other} is the database after ${seconds.toFixed(1)} s`);
  });

  step('7. the exported url serves the board: ready, a message posted and read back', async (t) => {
    if (!cluster.runsContainers) return t.skip('KWOK runs no containers, so nothing answers at the url here');
    const url = String((await stack.outputs()).url?.value);
    const ready = await fetch(new URL('/ready', url));
    assert.equal(ready.status, 200, `${url}/ready answers 200`);
    const message = `lifecycle ${randomSecret()}`;
    const posted = await fetch(new URL('/messages', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message }),
    });
    assert.equal(posted.status, 201);
    const listed = (await (await fetch(new URL('/messages', url))).json()) as { message: string }[];
    assert.ok(
      listed.some((item) => item.message === message),
      'the posted message is listed',
    );
    t.diagnostic(`checked: ${url} is ready, stored a message and listed it`);
  });

  step('8. destroy leaves nothing of the stack in the API server', async (t) => {
    const declared = await declaredObjects(config, secrets);
    const bound = (await cluster.list('persistentvolume')).filter(
      (volume) => volume.spec.claimRef?.namespace === NAMESPACE,
    );
    const destroy = await stack.destroy();
    assert.equal(destroy.summary.result, 'succeeded');
    assert.equal(await cluster.get('namespace', NAMESPACE), undefined, `namespace ${NAMESPACE} is gone`);
    for (const volume of bound) await releasedAsItsPolicySays(volume);
    for (const object of declared) {
      assert.equal(
        await cluster.get(object.resource, object.name, object.namespace),
        undefined,
        `${object.resource} ${object.namespace ?? ''}/${object.name} is gone`,
      );
    }
    t.diagnostic(
      `checked: namespace and all ${declared.length} declared objects gone; ${bound.length} bound volume(s) released as their reclaim policy says`,
    );
  });

  async function databaseState(): Promise<string[]> {
    const objects = [
      ...(await cluster.list('statefulset', NAMESPACE)),
      ...(await cluster.list('secret', NAMESPACE)),
      ...(await cluster.list('persistentvolumeclaim', NAMESPACE)),
    ];
    return objects.map(
      (object) => `${object.kind}/${object.metadata.name} ${object.metadata.uid} ${object.metadata.resourceVersion}`,
    );
  }

  async function webPodNames(): Promise<string[]> {
    return (await readyPods('web')).map((pod) => pod.metadata.name);
  }
}

/** Pods of the stack (of one component), once every one of them is Ready and none is terminating. */
async function readyPods(component?: string): Promise<KubeObject[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const pods = (await cluster.list('pod', NAMESPACE)).filter(
      (pod) => !component || pod.metadata.labels?.['app.kubernetes.io/component'] === component,
    );
    const settled = pods.every(
      (pod) =>
        !(pod.metadata as { deletionTimestamp?: string }).deletionTimestamp &&
        pod.status?.conditions?.some(
          (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
        ),
    );
    if (pods.length > 0 && settled) return pods;
    if (Date.now() > deadline) {
      throw new Error(
        `pods${component ? ` of ${component}` : ''} not all Ready within 60 s: ${pods.map((p) => p.metadata.name).join(', ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A volume the stack bound: Released and kept (then offered again here) under Retain, gone under Delete. */
async function releasedAsItsPolicySays(volume: KubeObject): Promise<void> {
  const name = volume.metadata.name;
  if (volume.spec.persistentVolumeReclaimPolicy === 'Retain') {
    const now = await cluster.get('persistentvolume', name);
    assert.equal(now?.status.phase, 'Released', `${name} was released and kept (reclaim policy Retain)`);
    await cluster.kubectl(['patch', 'pv', name, '--type=json', '-p=[{"op":"remove","path":"/spec/claimRef"}]']);
    return;
  }
  await cluster.kubectl(['wait', '--for=delete', `pv/${name}`, '--timeout=120s']);
}

/** Runs `up` and lists what it changed, as "op type", leaving out what stayed the same. */
async function upChanges(stack: Stack): Promise<string[]> {
  const changes: string[] = [];
  const up = await stack.up({
    onEvent: (event: EngineEvent) => {
      const step = event.resOutputsEvent?.metadata;
      if (step && step.op !== 'same' && step.type !== 'pulumi:pulumi:Stack') changes.push(`${step.op} ${step.type}`);
    },
  });
  assert.equal(up.summary.result, 'succeeded');
  return changes.sort();
}

/** The Kubernetes objects the program registers for this config, from a run under mocks. */
async function declaredObjects(
  config: Record<string, string>,
  secrets: Record<string, string>,
): Promise<{ resource: string; name: string; namespace?: string }[]> {
  const run = await runProgram('dev', { ...config, ...secrets }, Object.keys(secrets));
  assert.deepEqual(run.errors, []);
  return run.resources
    .filter((resource) => resource.type.startsWith('kubernetes:') && resource.custom)
    .map((resource) => {
      const [, groupVersion = '', kind = ''] = resource.type.split(':');
      const [group, version] = groupVersion.split('/');
      return {
        resource: group === 'core' ? kind.toLowerCase() : `${kind.toLowerCase()}.${version}.${group}`,
        name: resource.inputs.metadata?.name,
        namespace: resource.inputs.metadata?.namespace,
      };
    });
}

function fingerprint(secrets: KubeObject[]): string {
  return createHash('sha256')
    .update(JSON.stringify(secrets.map((secret) => secret.data)))
    .digest('hex');
}

function randomSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** The Pulumi diagnostic of a failed command: its error lines, not the whole log. */
function diagnostic(error: unknown): string {
  const text = String((error as { message?: string }).message ?? error);
  const lines = text.split('\n').filter((line) => /error|violation|failed/i.test(line));
  return (lines.length > 0 ? lines : text.split('\n').slice(0, 5)).join('\n').slice(0, 4000);
}
