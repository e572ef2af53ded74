/**
 * The dev stack's whole life on the real Pulumi engine (CLI, Node.js language host, Kubernetes
 * provider, the policy pack) and real containers, once for each engine: preview with the policy pack,
 * up, the exported url answering, a second preview from another checkout, the seeds' experiments (a
 * deleted database pod keeps its data, the autoscaler scales under load), restricted pods and
 * NetworkPolicies checked from inside, probes that tell the truth, an image update and a password
 * change under steady load without a failed request, an engine switch, and destroy. `npm run e2e`.
 *
 * By default on a real single-node Kubernetes started here (test/node/real-node.ts, from
 * scripts/toolchain.sh and scripts/node-images.sh): the web image built by buildah from
 * service/Dockerfile, the database tier on the stand-in images (`dbImage`). With E2E_KUBE_CONTEXT,
 * against that context of $KUBECONFIG (a kind cluster created with the README's port mapping), with
 * the `pulumi` on PATH, the program building and loading the image and the official database images.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { EngineEvent, Stack, UpResult } from '@pulumi/pulumi/automation';
import { type Load, wrk } from '../../bench/wrk';
import { METRICS_PORT } from '../../infra/web-tier';
import { type RealNode, realNodeUnavailable } from '../node/real-node';
import { pulumiToolsMissing } from '../support/toolchain';
import { Cluster } from './cluster';
import {
  appLogin,
  changePasswordInTheDatabase,
  databaseState,
  type Engine,
  fingerprint,
  finishPasswordChange,
  withPassword,
} from './database';
import { namespaceGone, reportFailure } from './namespace';
import { killFirstBoot, type NodeImages, startNode } from './node';
import { copyProject, devStack, projectConfig } from './project';
import { declaredObjects, diagnostic, upChanges, upReporting } from './stack';
import { allMessages, describeLoad, postMessage, SteadyLoad, screenshot, tally, urlReady } from './traffic';
import {
  connect,
  databaseIdentity,
  databasePod,
  eventually,
  exec,
  isReady,
  mergePatch,
  NAMESPACE,
  nodeFetch,
  podsOf,
  probePod,
  readyPods,
  restartRollout,
  seconds,
  settle,
  webPodNames,
} from './workloads';

const NODE_PORT = 30004;
/** What a user opening the page under load may wait, one time in a hundred, at the floor of 2 web pods. */
const FLOOR_P99_MS = 100;
const URL_BASE = `http://localhost:${NODE_PORT}`;
/** An image no registry serves: a pull from this machine's own port 443, where nothing listens, fails at once. */
const BROKEN_IMAGE = 'localhost/two-tier/no-such-image:0';
const EXISTING_CONTEXT = process.env.E2E_KUBE_CONTEXT;
const unavailable = EXISTING_CONTEXT ? false : pulumiToolsMissing() || realNodeUnavailable();
if (unavailable && process.env.CI === 'true') throw new Error(`${unavailable}; CI must run the lifecycle test`);

/** The stacks' folders: removed at exit as well, when a Ctrl-C ends the run before their `after` hooks. */
const temporary = new Set<string>();
process.on('exit', () => {
  for (const folder of temporary) rmSync(folder, { recursive: true, force: true });
});

let cluster: Cluster;
let node: RealNode | undefined;
let images: NodeImages | undefined;

before(async () => {
  if (unavailable) return;
  if (EXISTING_CONTEXT) {
    cluster = new Cluster('kubectl', process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config'), EXISTING_CONTEXT);
    return;
  }
  ({ node, images } = await startNode());
  cluster = node;
});

after(async () => {
  await node?.delete();
});

for (const engine of ['mysql', 'mongodb'] as const) {
  describe(`the dev stack on ${engine}`, { concurrency: 1, skip: unavailable }, () => lifecycle(engine));
}

function lifecycle(first: Engine): void {
  const other: Engine = first === 'mysql' ? 'mongodb' : 'mysql';
  const offline = !EXISTING_CONTEXT;
  const config: Record<string, string> = { dbEngine: first, kubeContext: '' };
  const secrets = { dbPassword: randomSecret(), dbRootPassword: randomSecret() };
  const written: string[] = [];
  let stateFolder: string;
  let checkout: string;
  let stack: Stack;
  let failed = false;

  /**
   * Each step is a test; a failure prints what the namespace says about it (the failing pods' logs, the
   * recent events), and the steps after it say so instead of running on a broken stack.
   */
  const step = (name: string, body: (t: TestContext) => Promise<void>) =>
    test(name, async (t) => {
      if (failed) return t.skip('an earlier step failed');
      const started = performance.now();
      try {
        await body(t);
      } catch (error) {
        failed = true;
        await reportFailure(cluster, NAMESPACE, error);
        t.diagnostic(`FAILED after ${seconds(started)} s: ${diagnostic(error)}`);
        throw new Error(`${name}: ${diagnostic(error)}`, { cause: error });
      }
      t.diagnostic(`${name}: ${seconds(started)} s`);
    });

  before(async () => {
    // A stack that failed before this one is destroyed in its `after`; its namespace and volumes must be gone.
    const waited = await namespaceGone(cluster, NAMESPACE);
    if (waited >= 1) console.log(`waited ${waited.toFixed(0)} s for the last stack's namespace and volumes to go`);
    config.kubeContext = cluster.context;
    if (images) {
      config.webImage = images.web;
      config.dbImage = images.database[first];
    }
    stateFolder = await mkdtemp(join(tmpdir(), 'two-tier-state-'));
    checkout = await copyProject();
    temporary.add(stateFolder).add(checkout);
    stack = await devStack(checkout, { stateFolder, kubeconfig: cluster.kubeconfig, offline });
    await stack.setAllConfig(projectConfig(config, secrets));
  });

  after(async () => {
    if (failed && stack)
      await stack.destroy().catch((error) => console.log(`destroy after the failure failed: ${diagnostic(error)}`));
    await rm(stateFolder, { recursive: true, force: true });
    await rm(checkout, { recursive: true, force: true });
    temporary.delete(stateFolder);
    temporary.delete(checkout);
  });

  step(
    '1. preview with the policy pack passes; a non-compliant setting is refused by a mandatory policy',
    async (t) => {
      const started = performance.now();
      const preview = await stack.preview({ policyPacks: [join(checkout, 'policy')] });
      assert.ok((preview.changeSummary.create ?? 0) > 0, 'the first preview plans to create the stack');
      t.diagnostic(
        `checked: preview plans ${preview.changeSummary.create} creations and no policy violation; it took ${seconds(started)} s`,
      );
      const plain = performance.now();
      await stack.preview();
      t.diagnostic(`timed: preview without the policy pack ${seconds(plain)} s`);

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

  step('2. up creates every declared object, admitted as restricted, and the exported url answers', async (t) => {
    const started = performance.now();
    const up = await upReporting(stack, cluster);
    assert.equal(up.summary.result, 'succeeded');
    const upSeconds = seconds(started);
    assert.equal(up.outputs.url?.value, URL_BASE);
    await urlReady(URL_BASE, 'the url answering /ready with 200', 120);
    t.diagnostic(`figure: up took ${upSeconds} s; the url answered ${seconds(started)} s after up started`);

    const expected = await declaredObjects(config, secrets);
    assert.ok(expected.length >= 10, `the program declares the tiers' objects (found ${expected.length})`);
    for (const object of expected) {
      assert.ok(
        await cluster.get(object.resource, object.name, object.namespace),
        `the API server holds ${object.resource} ${object.namespace ?? ''}/${object.name}`,
      );
    }
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
    const pods = await readyPods(cluster);
    assert.ok(pods.some((pod) => pod.metadata.labels?.['app.kubernetes.io/component'] === 'web'));
    assert.ok(pods.some((pod) => pod.metadata.labels?.['app.kubernetes.io/component'] === 'database'));
    if (config.webImage) assert.equal(up.outputs.image?.value, config.webImage);
    t.diagnostic(
      `checked: all ${expected.length} declared objects; ${pods.length} pods Ready under enforce=restricted`,
    );

    const message = `lifecycle ${randomSecret()}`;
    await postMessage(cluster, URL_BASE, message);
    written.push(message);
    const listed = (await (await fetch(`${URL_BASE}/messages`)).json()) as { message: string }[];
    assert.ok(
      listed.some((item) => item.message === message),
      'the posted message is read back at the url',
    );
    await screenshot(URL_BASE, `board-${first}`, message);
    t.diagnostic(`checked: ${URL_BASE} is ready, stored a message, listed it and rendered it in Chromium`);
  });

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

  step('4. restricted for real: every container runs as its non-root uid on a read-only root', async (t) => {
    const seen: string[] = [];
    for (const pod of await readyPods(cluster)) {
      const expected = pod.spec.securityContext?.runAsUser;
      const uid = (await exec(cluster, pod, ['id', '-u'])).trim();
      assert.notEqual(uid, '0', `${pod.metadata.name} does not run as root`);
      assert.equal(uid, String(expected), `${pod.metadata.name} runs as the uid its pod declares`);
      await assert.rejects(
        exec(cluster, pod, ['sh', '-c', 'echo x > /written-by-the-test']),
        /Read-only file system/,
        `${pod.metadata.name}: a write to / fails`,
      );
      seen.push(`${pod.metadata.name} uid ${uid}`);
    }
    t.diagnostic(`checked: ${seen.join('; ')}; a write to / fails in each`);
  });

  step('5. data survives its pod: the database pod deleted, every message is there once it is back', async (t) => {
    for (let index = 0; index < 5; index++) {
      const message = `before the database pod went ${index} ${randomSecret()}`;
      await postMessage(cluster, URL_BASE, message);
      written.push(message);
    }
    const database = await databasePod(cluster);
    const started = performance.now();
    await cluster.kubectl(['delete', 'pod', '-n', NAMESPACE, database.metadata.name, '--wait=true']);
    await eventually(
      'a new database pod Ready',
      async () =>
        (await podsOf(cluster, 'database')).some((pod) => pod.metadata.uid !== database.metadata.uid && isReady(pod)),
      300,
    );
    const back = seconds(started);
    await urlReady(URL_BASE, 'the url ready again', 60);
    const listed = await allMessages(URL_BASE);
    for (const message of written) assert.ok(listed.includes(message), `"${message}" is still there`);
    t.diagnostic(
      `checked: ${written.length} messages read back after the database pod was replaced (Ready again in ${back} s)`,
    );
  });

  step(
    '6. a crash loses no acknowledged write: six writers post, the database is SIGKILLed, every 201 is there once it is back',
    async (t) => {
      if (!node) return t.skip('the real node only: the test kills the database container from the host');
      const engine = config.dbEngine as Engine;
      const database = await databasePod(cluster);
      const restarts = database.status.containerStatuses[0].restartCount;
      const writers = new SteadyLoad(URL_BASE, { readers: 0, writers: 6, writePauseMs: 200, maxSeconds: 300 });
      try {
        await eventually('the first writes acknowledged', async () => writers.acknowledged.length >= 3, 60);
        const pid = await node.runningContainerPid(database.metadata.name, engine);
        assert.ok(pid, `the ${engine} container runs`);
        process.kill(pid, 'SIGKILL');
        const killed = performance.now();
        const before = writers.acknowledged.length;
        await eventually(
          'the database container restarted and Ready',
          async () => {
            const pod = await databasePod(cluster);
            return pod.status.containerStatuses[0].restartCount > restarts && isReady(pod);
          },
          300,
        );
        const back = seconds(killed);
        await urlReady(URL_BASE, 'the url ready again', 120);
        const after = writers.acknowledged.length;
        await eventually('a write acknowledged after the restart', async () => writers.acknowledged.length > after, 90);
        await writers.stop();
        const listed = new Set(await allMessages(URL_BASE));
        const lost = writers.acknowledged.filter((message) => !listed.has(message));
        assert.deepEqual(lost, [], `${lost.length} of ${writers.acknowledged.length} acknowledged writes are gone`);
        written.push(...writers.acknowledged);
        t.diagnostic(
          `checked: ${writers.acknowledged.length} writes acknowledged (${before} before the SIGKILL, ${writers.acknowledged.length - before} after), 0 lost; answered otherwise: ${tally(writers.failures)}; ${engine} Ready again ${back} s after the kill`,
        );
      } finally {
        await writers.stop();
      }
    },
  );

  step('7. NetworkPolicies are enforced: only web pods reach the database; only the web port is open', async (t) => {
    const database = await databasePod(cluster);
    const [web] = await readyPods(cluster, 'web');
    const databasePort = database.spec.containers[0].ports[0].containerPort;
    const probe = await probePod(cluster, images?.debian ?? 'debian:bookworm-slim');
    try {
      const db = database.status.podIP;
      assert.equal(await connect(cluster, web, db, databasePort), 'open', 'a web pod reaches the database port');
      assert.equal(
        await connect(cluster, probe, db, databasePort),
        'dropped',
        'a pod without the web labels is dropped there',
      );
      assert.equal(await connect(cluster, probe, web.status.podIP, 5000), 'open', 'the web port is open to any pod');
      const checked = [
        `web -> database:${databasePort} open`,
        `unlabelled -> database:${databasePort} dropped`,
        'unlabelled -> web:5000 open',
      ];
      if (config.dbEngine === 'mysql') {
        // MySQL also listens for its X protocol; the policy admits the classic port only, even from web pods.
        assert.equal(
          await connect(cluster, web, db, 33060),
          'dropped',
          "the database pod's other listening port is closed to web pods",
        );
        checked.push('web -> database:33060 (listening) dropped');
      }
      const services = await cluster.list('service', NAMESPACE);
      const exposed = services
        .filter((s) => s.spec.type === 'NodePort')
        .flatMap((s) => s.spec.ports.map((p: { targetPort: unknown }) => String(p.targetPort)));
      assert.deepEqual(exposed, ['http'], 'the only port reachable from outside the cluster is the web port');
      t.diagnostic(`checked: ${checked.join('; ')}; outside the cluster only the NodePort to the web port`);
    } finally {
      await cluster.kubectl(['delete', 'pod', '-n', NAMESPACE, probe.metadata.name, '--wait=false']);
    }
  });

  step('8. the autoscaler takes the web tier from 2 pods to more under load, and back once it stops', async (t) => {
    const hpa = `hpa/${(await cluster.list('hpa', NAMESPACE))[0].metadata.name}`;
    assert.equal((await readyPods(cluster, 'web')).length, 2, 'the web tier starts at the floor of 2 pods');
    // Measured at the floor: 16 connections take both pods far past the autoscaler's target, so it is held at
    // 2 pods while it is measured (its ceiling patched to 2, then put back), or the figure would be a scale-up's.
    const { maxReplicas } = (await cluster.get('hpa', hpa.split('/')[1], NAMESPACE))?.spec ?? {};
    assert.ok(
      Number.isInteger(maxReplicas) && maxReplicas > 2,
      `the autoscaler's ceiling is above the floor (${maxReplicas})`,
    );
    await mergePatch(cluster, hpa, { spec: { maxReplicas: 2 } });
    let alone: Load | undefined;
    let warmUp: Load;
    let floor: Load;
    try {
      // The MongoDB stand-in (FerretDB over SQLite) spends milliseconds of CPU decoding every message of a
      // page, where MySQL and MongoDB take a fraction of one: 16 requests queue behind it, which the
      // target allows for there, as 16 times what one request takes alone through the url (its p99).
      if (offline && first === 'mongodb') alone = await wrk(`${URL_BASE}/messages`, { connections: 1, seconds: 3 });
      // A warm-up first, as the bench has: the database restarted in step 6 and its caches are cold.
      warmUp = await wrk(`${URL_BASE}/messages`, { connections: 16, seconds: 3 });
      floor = await wrk(`${URL_BASE}/messages`, { connections: 16, seconds: 10 });
    } finally {
      await mergePatch(cluster, hpa, { spec: { maxReplicas } });
    }
    const p99Target = FLOOR_P99_MS + (alone ? 16 * alone.p99 : 0);
    const started = performance.now();
    const stopLoad = new AbortController();
    const loading = wrk(`${URL_BASE}/messages`, { connections: 32, seconds: 240, signal: stopLoad.signal });
    let scaledAfter = 0;
    let ceilingAfter = 0;
    try {
      scaledAfter = await eventually(
        'a third web pod Ready under load',
        async () => (await readyPods(cluster, 'web', 5).catch(() => [])).length >= 3,
        200,
      );
      const max = (await cluster.get('hpa', hpa.split('/')[1], NAMESPACE))?.spec.maxReplicas;
      await eventually(
        `the web tier at its ceiling of ${max}`,
        async () => (await podsOf(cluster, 'web')).filter(isReady).length >= max,
        Math.max(10, 220 - Number(seconds(started))),
      );
      ceilingAfter = Number(seconds(started));
    } finally {
      stopLoad.abort();
      await loading.catch(() => undefined);
    }
    // Measured alone, before the autoscaler's five-minute scale-down window lets a pod go.
    const ceiling = await wrk(`${URL_BASE}/messages`, { connections: 16, seconds: 10 });
    // The default scale-down window is five minutes; the test shortens it on the object it reads and
    // leaves it so (put back, the five minutes of recommendations made under load would scale it up again).
    await mergePatch(cluster, hpa, { spec: { behavior: { scaleDown: { stabilizationWindowSeconds: 15 } } } });
    const down = await eventually(
      'the web tier back at 2 pods',
      async () => (await podsOf(cluster, 'web')).length === 2,
      240,
    );
    t.diagnostic(
      `figure: back to the floor ${down.toFixed(0)} s after the load ended (scale-down window patched to 15 s for the test)`,
    );
    t.diagnostic(
      `figure: a third pod Ready ${scaledAfter.toFixed(0)} s after the load started, the ceiling after ${ceilingAfter.toFixed(0)} s`,
    );
    t.diagnostic(
      `figure: GET /messages at the floor (2 pods) ${describeLoad(floor)}; at the ceiling ${describeLoad(ceiling)}`,
    );
    t.diagnostic(`figure: the 3 s warm-up before the floor's 10 s: ${describeLoad(warmUp)}`);
    if (alone) t.diagnostic(`figure: GET /messages alone on the stand-in (1 connection) ${describeLoad(alone)}`);
    assert.ok(
      floor.errors === 0 && floor.p99 < p99Target,
      `GET /messages through the url at the floor of 2 pods, 16 connections: ${describeLoad(floor)}; the target is no error and a p99 under ${p99Target.toFixed(0)} ms`,
    );
  });

  step(
    '9. probes tell the truth: the database not ready while its server is stopped; a wrong password shows in /ready',
    async (t) => {
      if (!node)
        return t.skip(
          "stopping a container's process needs the node itself (the real node); not on an existing context",
        );
      const database = await databasePod(cluster);
      const pid = await node.containerPid(database);
      process.kill(pid, 'SIGSTOP');
      let notReady: number;
      try {
        notReady = await eventually(
          'the database pod not Ready while its server is stopped',
          async () => {
            const [pod] = await podsOf(cluster, 'database');
            return !isReady(pod);
          },
          120,
        );
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      const readyAgain = await eventually(
        'the database pod Ready again',
        async () => isReady((await podsOf(cluster, 'database'))[0]),
        120,
      );
      assert.equal(await databaseIdentity(cluster), await databaseIdentity(cluster));
      t.diagnostic(
        `checked: not Ready ${notReady.toFixed(0)} s after SIGSTOP, Ready ${readyAgain.toFixed(0)} s after SIGCONT`,
      );

      // A wrong password in the Secret: new web pods cannot log in, say so in /ready and are never Ready,
      // so the rollout holds while the old pods go on serving.
      const secret = (await cluster.list('secret', NAMESPACE)).find((s) => s.metadata.name.endsWith('-credentials'));
      assert.ok(secret?.data, 'the credentials Secret');
      const wrongPassword = `wrong-${randomSecret()}`;
      const wrong = withPassword(secret.data, wrongPassword);
      const deployment = `deployment/${(await cluster.list('deployment', NAMESPACE))[0].metadata.name}`;
      const webBefore = await webPodNames(cluster);
      const setData = (data: Record<string, string>) => mergePatch(cluster, `secret/${secret.metadata.name}`, { data });
      await setData(wrong);
      try {
        await restartRollout(cluster, deployment);
        let answer = '';
        const said = await eventually(
          "a new web pod's /ready naming the refused login",
          async () => {
            const fresh = (await podsOf(cluster, 'web')).filter(
              (pod) => !webBefore.includes(pod.metadata.name) && pod.status?.phase === 'Running',
            );
            for (const pod of fresh) {
              answer = (await exec(cluster, pod, nodeFetch('/ready', METRICS_PORT))).trim();
              if (/^503 /.test(answer) && /refused the service's credentials/.test(answer)) return true;
            }
            return false;
          },
          120,
        );
        assert.equal((await fetch(`${URL_BASE}/ready`)).status, 200, 'the old pods go on serving the url meanwhile');
        t.diagnostic(
          `checked: with a wrong password in the Secret a new pod answers /ready with: ${answer.slice(0, 200)} (${said.toFixed(0)} s); the url stays ready`,
        );
      } finally {
        await setData(secret.data);
        await restartRollout(cluster, deployment, { waitSeconds: 180 });
      }
    },
  );

  step(
    '10. a new image under steady load: only the Deployment rolls, no request fails, the database is untouched',
    async (t) => {
      const databaseBefore = await databaseIdentity(cluster);
      const before = await databaseState(cluster);
      const webBefore = await webPodNames(cluster);
      if (images) {
        config.webImage = images.webUpdate;
        await stack.setConfig('two-tier:webImage', { value: config.webImage });
      } else {
        await writeFile(
          join(checkout, 'service', 'src', 'server.ts'),
          `${await readFile(join(checkout, 'service', 'src', 'server.ts'), 'utf8')}// a change to the service\n`,
        );
      }
      const load = new SteadyLoad(URL_BASE);
      let changed: string[];
      try {
        changed = await upChanges(stack, cluster);
      } finally {
        await settle(cluster);
      }
      const counted = await load.stop();
      const outsideTheImage = changed.filter((change) => !/ (docker|command):/.test(change));
      assert.deepEqual(outsideTheImage, ['update kubernetes:apps/v1:Deployment'], 'only the web Deployment changes');
      assert.deepEqual(
        await databaseState(cluster),
        before,
        'the StatefulSet, the Secret and the claim are the same objects',
      );
      assert.equal(await databaseIdentity(cluster), databaseBefore, 'the database pod was not restarted');
      const webAfter = await webPodNames(cluster);
      assert.ok(
        webAfter.every((name) => !webBefore.includes(name)),
        'every web pod was replaced',
      );
      const image = String((await stack.outputs()).image?.value);
      for (const pod of await readyPods(cluster, 'web')) assert.equal(pod.spec.containers[0].image, image);
      assert.equal(counted.failed, 0, `no request failed during the update: ${counted.failures.join('; ')}`);
      t.diagnostic(
        `checked: ${changed.join(', ')}; ${webAfter.length} new web pods run ${image}; ${counted.ok} requests, ${counted.failed} failed`,
      );
    },
  );

  step(
    '11. a password change as the README says, under steady load: no request fails, the database is untouched',
    async (t) => {
      const databaseBefore = await databaseIdentity(cluster);
      const webBefore = await webPodNames(cluster);
      const secretBefore = await cluster.list('secret', NAMESPACE);
      const statefulSets = await cluster.list('statefulset', NAMESPACE);
      const load = new SteadyLoad(URL_BASE);
      let changed: string[];
      const engine = config.dbEngine as Engine;
      const oldPassword = secrets.dbPassword;
      try {
        secrets.dbPassword = randomSecret();
        await changePasswordInTheDatabase(cluster, engine, secrets.dbPassword);
        await stack.setConfig('two-tier:dbPassword', { value: secrets.dbPassword, secret: true });
        changed = await upChanges(stack, cluster);
      } finally {
        await settle(cluster);
      }
      await finishPasswordChange(cluster, engine);
      const counted = await load.stop();
      await assert.rejects(
        appLogin(cluster, engine, oldPassword),
        'the old password is refused once the change is finished',
      );
      await appLogin(cluster, engine, secrets.dbPassword);
      assert.deepEqual(
        changed,
        ['update kubernetes:apps/v1:Deployment', 'update kubernetes:core/v1:Secret'],
        'the Secret is updated in place and the web Deployment rolls; nothing is replaced',
      );
      assert.deepEqual(
        await cluster.list('statefulset', NAMESPACE),
        statefulSets,
        'the database StatefulSet is untouched',
      );
      assert.equal(await databaseIdentity(cluster), databaseBefore, 'the database pod was not restarted');
      assert.notDeepEqual(
        fingerprint(await cluster.list('secret', NAMESPACE)),
        fingerprint(secretBefore),
        'the Secret holds a new value',
      );
      const webAfter = await webPodNames(cluster);
      assert.ok(
        webAfter.every((name) => !webBefore.includes(name)),
        'every web pod was replaced, so none keeps the old password',
      );
      await urlReady(URL_BASE, 'the url ready with the new password', 60);
      assert.equal(counted.failed, 0, `no request failed during the password change: ${counted.failures.join('; ')}`);
      t.diagnostic(
        `checked: ${changed.join(', ')}; ${webAfter.length} new web pods; ${counted.ok} requests, ${counted.failed} failed`,
      );
    },
  );

  step(
    `12. switching dbEngine from ${first} to ${other} on the live stack completes, and the url serves`,
    async (t) => {
      config.dbEngine = other;
      await stack.setConfig('two-tier:dbEngine', { value: other });
      if (images) {
        config.dbImage = images.database[other];
        await stack.setConfig('two-tier:dbImage', { value: config.dbImage });
      }
      const started = performance.now();
      const steps: string[] = [];
      // Readers on kept-alive connections, as browsers and load balancers hold them: some reach the web
      // pods the switch rolls away until those end, so the old engine must serve until then.
      const readers = new SteadyLoad(URL_BASE, { writers: 0 });
      let up: UpResult;
      try {
        up = await upReporting(stack, cluster, {
          onEvent: (event: EngineEvent) => {
            const step = event.resourcePreEvent?.metadata;
            if (step && step.op !== 'same' && /StatefulSet|Deployment|DeleteDelay/.test(step.type))
              steps.push(`${seconds(started)} s ${step.op} ${step.urn.split('::').pop()}`);
          },
        });
      } finally {
        await settle(cluster);
      }
      const read = await readers.stop();
      t.diagnostic(`the switch's steps on the workloads: ${steps.join('; ')}`);
      assert.equal(up.summary.result, 'succeeded');
      assert.equal(read.failed, 0, `no read failed during the switch: ${read.failures.join('; ')}`);
      assert.ok(Number(seconds(started)) < 300, `the switch took ${seconds(started)} s, under five minutes`);
      const statefulSets = await cluster.list('statefulset', NAMESPACE);
      assert.deepEqual(
        statefulSets.map((set) => set.metadata.name),
        [`db-${other}`],
        `only the ${other} StatefulSet is left`,
      );
      assert.equal(statefulSets[0]?.status.readyReplicas, 1);
      assert.equal(up.outputs.dbEngine?.value, other);
      await urlReady(URL_BASE, 'the url ready on the new engine', 120);
      const message = `after the switch ${randomSecret()}`;
      await postMessage(cluster, URL_BASE, message);
      const listed = await allMessages(URL_BASE);
      assert.ok(listed.includes(message), 'a message posted on the new engine is read back');
      const lost = written.filter((earlier) => !listed.includes(earlier));
      assert.deepEqual(lost, [], `every message written on ${first} is read back on ${other}`);
      t.diagnostic(
        `checked: ${other} serves the url after ${seconds(started)} s, with all ${written.length} messages written on ${first}; ${read.ok} reads during the switch, 0 failed`,
      );
    },
  );

  step('13. destroy leaves nothing of the stack in the API server', (t) => destroyLeavesNothing(t));

  step(
    '14. up again after destroy, the first boot killed half-way: it starts over by itself, and the url serves',
    async (t) => {
      if (!node) return t.skip('the real node only: the test kills the database container from the host');
      const engine = config.dbEngine as Engine;
      const started = performance.now();
      const up = upReporting(stack, cluster);
      up.catch(() => undefined);
      const killed = await killFirstBoot(node, engine);
      assert.equal((await up).summary.result, 'succeeded');
      const [database] = await readyPods(cluster, 'database');
      assert.ok(database, 'the database pod is Ready');
      assert.ok(database.status.containerStatuses[0].restartCount >= 1, 'the database container was restarted');
      const log = await cluster.kubectl(['logs', '-n', NAMESPACE, database.metadata.name]);
      assert.match(log, /the first boot of this volume was interrupted/, "the guard said so in the pod's log");
      await urlReady(URL_BASE, 'the url ready', 120);
      const message = `after an interrupted first boot ${randomSecret()}`;
      await postMessage(cluster, URL_BASE, message);
      written.splice(0, written.length, message);
      assert.ok((await allMessages(URL_BASE)).includes(message), 'a message is read back');
      t.diagnostic(
        `checked: ${engine}'s first boot killed ${killed.toFixed(1)} s into it; the guard emptied the data directory and the next boot finished; up succeeded in ${seconds(started)} s and the url stores and reads`,
      );
    },
  );

  step('15. a database pod broken by a bad image is replaced by the corrected up, with its data', async (t) => {
    const good = config.dbImage;
    await stack.setConfig('two-tier:dbImage', { value: BROKEN_IMAGE });
    const abort = new AbortController();
    let ended: string | undefined;
    const broken = stack.up({ signal: abort.signal }).then(
      (result) => (ended = result.summary.result),
      (error: Error) => (ended = `stopped: ${diagnostic(error).split('\n')[0]}`),
    );
    const failing = await eventually(
      'the database pod failing to pull the bad image',
      async () =>
        (await podsOf(cluster, 'database')).some((pod) =>
          ['ErrImagePull', 'ImagePullBackOff'].includes(pod.status?.containerStatuses?.[0]?.state?.waiting?.reason),
        ),
      180,
    );
    // A user's Ctrl-C on an up that waits for a database that cannot start. The Kubernetes provider
    // 4.25 may already have reported the StatefulSet ready from its status before the controller saw
    // the change (it does not compare observedGeneration: pulumi/pulumi-kubernetes#4094, fixed in a
    // later release); either way the pod is broken, and what follows must mend it.
    if (ended === undefined) abort.abort();
    const outcome = await broken;

    if (good) await stack.setConfig('two-tier:dbImage', { value: good });
    else await stack.removeConfig('two-tier:dbImage');
    const started = performance.now();
    // As the README says: a stopped `up` leaves the state with the old image, though the cluster has the
    // bad one, so a plain `up` would see nothing to change; `--refresh` reads the cluster first.
    const fixed = await upReporting(stack, cluster, { refresh: true });
    assert.equal(fixed.summary.result, 'succeeded');
    const [database] = await readyPods(cluster, 'database');
    const image = database?.spec.containers[0].image;
    assert.ok(image && image !== BROKEN_IMAGE, `the database pod runs the corrected image (${image})`);
    await urlReady(URL_BASE, 'the url ready', 120);
    const listed = await allMessages(URL_BASE);
    assert.deepEqual(
      written.filter((earlier) => !listed.includes(earlier)),
      [],
      'every message written before is read back',
    );
    t.diagnostic(
      `checked: the bad image's pod failed to pull within ${failing.toFixed(0)} s; that up ${outcome === 'succeeded' ? 'had reported success (the provider read a stale status)' : `was stopped (${outcome})`}; the corrected up replaced the pod in ${seconds(started)} s, Ready on ${image}, with all ${written.length} messages`,
    );
  });

  step('16. destroy again leaves nothing of the stack in the API server', (t) => destroyLeavesNothing(t));

  async function destroyLeavesNothing(t: TestContext): Promise<void> {
    const declared = await declaredObjects(config, secrets);
    const bound = (await cluster.list('persistentvolume')).filter(
      (volume) => volume.spec.claimRef?.namespace === NAMESPACE,
    );
    const started = performance.now();
    const destroy = await stack.destroy();
    assert.equal(destroy.summary.result, 'succeeded');
    const took = seconds(started);
    assert.equal(await cluster.get('namespace', NAMESPACE), undefined, `namespace ${NAMESPACE} is gone`);
    for (const volume of bound)
      await cluster.kubectl(['wait', '--for=delete', `pv/${volume.metadata.name}`, '--timeout=120s']);
    for (const object of declared) {
      assert.equal(
        await cluster.get(object.resource, object.name, object.namespace),
        undefined,
        `${object.resource} ${object.namespace ?? ''}/${object.name} is gone`,
      );
    }
    t.diagnostic(
      `checked: destroy took ${took} s; namespace and all ${declared.length} declared objects gone; ${bound.length} provisioned volume(s) deleted with their claims`,
    );
  }
}

/**
 * A password that starts with "-": after `-p` a command line takes it for an option, so every login the
 * stand-ins and these steps make must pass it as `--password=` (a random one did so once in 64).
 */
function randomSecret(): string {
  return `-${randomBytes(24).toString('base64url')}`;
}
