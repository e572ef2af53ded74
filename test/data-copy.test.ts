import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { WEB_RESOURCES } from '../infra/web-tier';
import { storeConfig } from '../service/src/data';
import { type Container, containers } from './support/manifests';
import { one, type ProgramRun, runProgram } from './support/program';

const RUNS = [
  { stack: 'dev', engine: 'mysql', other: 'mongodb' },
  { stack: 'dev', engine: 'mongodb', other: 'mysql' },
  { stack: 'eks', engine: 'mysql', other: 'mongodb' },
  { stack: 'eks', engine: 'mongodb', other: 'mysql' },
] as const;

const runs = new Map<string, ProgramRun>();
const get = (stack: string, engine: string) => runs.get(`${stack}/${engine}`) as ProgramRun;

before(async () => {
  await Promise.all(
    RUNS.map(async ({ stack, engine }) => {
      const run = await runProgram(stack, { dbEngine: engine });
      assert.deepEqual(run.errors, [], `${stack}/${engine} failed under mocks`);
      runs.set(`${stack}/${engine}`, run);
    }),
  );
});

const pod = (run: ProgramRun) => one(run, 'kubernetes:apps/v1:Deployment').inputs.spec.template.spec;
const copyContainer = (run: ProgramRun) => pod(run).initContainers?.[0] as Container;

/** The container's environment as the kubelet would give it: each secretKeyRef read from the stack's Secret. */
function environment(run: ProgramRun, container: Container): Record<string, string> {
  const secret = one(run, 'kubernetes:core/v1:Secret').inputs;
  return Object.fromEntries(
    container.env.map((variable: Container) => {
      const ref = variable.valueFrom?.secretKeyRef;
      if (!ref) return [variable.name, variable.value];
      assert.equal(ref.name, secret.metadata.name, `${variable.name} reads another Secret`);
      assert.ok(ref.key in secret.stringData, `${variable.name} reads key "${ref.key}", which the Secret lacks`);
      return [variable.name, secret.stringData[ref.key]];
    }),
  );
}

for (const { stack, engine, other } of RUNS) {
  describe(`switching to ${engine} on ${stack}: the web pods copy from ${other} before they serve (under mocks)`, () => {
    test('every web pod first runs the data command of its own image: copy, into this engine, from the other', () => {
      const run = get(stack, engine);
      assert.equal(pod(run).initContainers.length, 1);
      const copy = copyContainer(run);
      const web = containers(one(run, 'kubernetes:apps/v1:Deployment'))[0] as Container;
      assert.equal(copy.image, web.image, 'the copy must run the same build as the web pods');
      // test/image.test.ts runs this file from the image's folder, as its user, read-only.
      assert.deepEqual(copy.command, ['node', 'service/dist/data.js', 'copy']);
      const env = environment(run, copy);
      assert.equal(env.DB_ENGINE, engine);
      assert.equal(env.SOURCE_DB_ENGINE, other);
      const webEnv = environment(run, web);
      for (const [name, value] of Object.entries(webEnv)) {
        if (/^(MYSQL|MONGODB)_/.test(name))
          assert.equal(env[name], value, `the copy writes elsewhere than the web tier: ${name}`);
      }
    });

    test(`the copy reads ${other} where the ${other} stack puts it, with the credentials its first boot was given`, () => {
      const source = storeConfig(environment(get(stack, engine), copyContainer(get(stack, engine))), 'SOURCE_');
      const previous = get(stack, other);
      const previousWeb = environment(
        previous,
        containers(one(previous, 'kubernetes:apps/v1:Deployment'))[0] as Container,
      );
      // What the other engine's own web tier connects to is what the copy connects to.
      const asServed = storeConfig(previousWeb);
      assert.equal(source.DB_ENGINE, other);
      if (other === 'mysql') {
        for (const key of ['MYSQL_HOST', 'MYSQL_PORT', 'MYSQL_USER', 'MYSQL_PASSWORD', 'MYSQL_DATABASE'] as const)
          assert.equal(source[key], asServed[key], key);
      } else {
        assert.equal(source.MONGODB_URL, asServed.MONGODB_URL);
        assert.equal(source.MONGODB_DATABASE, asServed.MONGODB_DATABASE);
      }
    });

    test('no password is a literal in the copy; it asks for no more than the web container and is restricted', () => {
      const copy = copyContainer(get(stack, engine));
      for (const variable of copy.env) {
        if (/PASSWORD/.test(variable.name)) assert.equal(variable.value, undefined, `${variable.name} is a literal`);
        if (variable.name.endsWith('MONGODB_URL') && variable.value)
          assert.doesNotMatch(variable.value, /:\/\/[^/@]+:[^/@]+@/, 'a password in the URL');
      }
      assert.deepEqual(copy.resources, WEB_RESOURCES, 'the pod would ask the scheduler for more');
      assert.equal(copy.securityContext.readOnlyRootFilesystem, true);
      assert.equal(copy.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(copy.securityContext.capabilities, { drop: ['ALL'] });
      assert.equal(copy.livenessProbe, undefined, 'Kubernetes refuses probes on init containers');
    });

    test(`the web pods may reach ${other}'s port while it runs; nothing else is let in`, () => {
      const run = get(stack, engine);
      const policy = one(run, 'kubernetes:networking.k8s.io/v1:NetworkPolicy', `data-copy-allow-web-${other}`);
      assert.deepEqual(policy.inputs.spec.podSelector.matchLabels, {
        'app.kubernetes.io/name': 'two-tier',
        'app.kubernetes.io/component': 'database',
      });
      assert.deepEqual(policy.inputs.spec.ingress, [
        {
          from: [
            {
              podSelector: {
                matchLabels: { 'app.kubernetes.io/name': 'two-tier', 'app.kubernetes.io/component': 'web' },
              },
            },
          ],
          ports: [{ protocol: 'TCP', port: other === 'mysql' ? 3306 : 27017 }],
        },
      ]);
      assert.ok(
        one(run, 'kubernetes:apps/v1:Deployment').dependencies.includes(policy.urn),
        'new pods could try the old port before it is open',
      );
    });

    test('Pulumi waits for the rollout, so every new pod has copied before the end of the up deletes the old engine', () => {
      const deployment = one(get(stack, engine), 'kubernetes:apps/v1:Deployment');
      assert.equal(deployment.inputs.metadata.annotations?.['pulumi.com/skipAwait'], undefined);
      assert.deepEqual(deployment.inputs.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
    });
  });
}
