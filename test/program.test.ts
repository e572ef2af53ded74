import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ENGINES } from '../infra/database/engines';
import { FIRST_BOOT_DONE_SCRIPT, FIRST_BOOT_STATE, firstBootDone, firstBootGuard } from '../infra/first-boot';
import { stackConfig, stackFileKeys } from '../infra/stack-config';
import { type Container, containers, kubernetesObjects, schemaError, workloadOf, workloads } from './support/manifests';
import { ofType, one, type ProgramRun, runProgram } from './support/program';
import { ALB_HOSTNAME, GENERATED_PASSWORD_PREFIX, MOCK_DIGEST } from './support/program-mocks';
import { REPO } from './support/server-process';

const RUNS = [
  { stack: 'dev', engine: 'mysql' },
  { stack: 'dev', engine: 'mongodb' },
  { stack: 'eks', engine: 'mysql' },
  { stack: 'eks', engine: 'mongodb' },
] as const;

const runs = new Map<string, ProgramRun>();
const key = (stack: string, engine: string) => `${stack}/${engine}`;

before(async () => {
  await Promise.all(
    RUNS.map(async ({ stack, engine }) => runs.set(key(stack, engine), await runProgram(stack, { dbEngine: engine }))),
  );
});

for (const { stack, engine } of RUNS) {
  describe(`pulumi program: stack ${stack}, ${engine}`, () => {
    let run: ProgramRun;
    before(() => {
      run = runs.get(key(stack, engine)) as ProgramRun;
      assert.deepEqual(run.errors, [], 'the program failed under mocks');
    });

    test('exports the stack outputs of the contract', () => {
      assert.deepEqual(
        Object.keys(run.outputs).sort(),
        stack === 'eks'
          ? ['clusterName', 'dbEngine', 'estimatedMonthlyCostUsd', 'image', 'kubeconfig', 'url']
          : ['clusterName', 'dbEngine', 'estimatedMonthlyCostUsd', 'image', 'url'],
      );
      assert.equal(run.outputs.dbEngine?.value, engine);
      if (stack === 'eks') assert.equal(run.outputs.kubeconfig?.secret, true, 'kubeconfig must be a secret output');
    });

    test("url is what a person opens: the ALB's hostname without a domain (eks) or the NodePort (local)", () => {
      const expected = stack === 'eks' ? `http://${ALB_HOSTNAME}` : 'http://localhost:30004';
      assert.equal(run.outputs.url?.value, expected);
      const service = one(run, 'kubernetes:core/v1:Service', 'web-service');
      if (stack === 'eks') {
        assert.equal(service.inputs.spec.type, 'ClusterIP', 'behind the ALB no node opens a port');
        assert.deepEqual(service.inputs.spec.ports, [{ name: 'http', port: 80, targetPort: 'http' }]);
      } else {
        assert.equal(service.inputs.spec.type, 'NodePort');
        assert.equal(service.inputs.spec.ports[0].nodePort, 30004);
      }
    });

    test("the write limit counts clients: on eks the ALB names them in X-Forwarded-For, trusted from the ALB's own subnets only", () => {
      const service = one(run, 'kubernetes:core/v1:Service', 'web-service');
      const web = containers(one(run, 'kubernetes:apps/v1:Deployment'))[0] as Container;
      const trusted = web.env.find((e: { name: string }) => e.name === 'TRUSTED_PROXIES')?.value;
      if (stack === 'eks') {
        assert.equal(service.inputs.metadata.annotations, undefined, 'no annotation of the in-tree controller is left');
        const subnets = ofType(run, 'aws:ec2/subnet:Subnet');
        const albSubnets = subnets.filter((s) => s.inputs.tags['kubernetes.io/role/elb'] === '1');
        assert.deepEqual(albSubnets.map((s) => s.name).sort(), ['cluster-load-balancer-0', 'cluster-load-balancer-1']);
        assert.equal(
          trusted,
          albSubnets.map((s) => s.inputs.cidrBlock).join(','),
          'the pods trust the ALB subnets only',
        );
        const nodeSubnetIds = ofType(run, 'eks:index:ManagedNodeGroup').flatMap((g) => g.inputs.subnetIds);
        const clusterSubnetIds = one(run, 'eks:index:Cluster').inputs.publicSubnetIds;
        for (const subnet of albSubnets) {
          assert.ok(
            ![...nodeSubnetIds, ...clusterSubnetIds].includes(`${subnet.name}-id`),
            `a node or pod can take an address in ${subnet.name}`,
          );
        }
        const annotations = one(run, 'kubernetes:networking.k8s.io/v1:Ingress').inputs.metadata.annotations;
        assert.match(
          annotations['alb.ingress.kubernetes.io/load-balancer-attributes'],
          /routing\.http\.xff_header_processing\.mode=append/,
        );
      } else {
        assert.equal(service.inputs.metadata.annotations, undefined);
        assert.equal(trusted, undefined, 'nothing in front of a NodePort adds X-Forwarded-For');
      }
    });

    test('/metrics: a port of its own that no Service exposes, open to the pods of the metrics namespace only', () => {
      const web = containers(one(run, 'kubernetes:apps/v1:Deployment'))[0] as Container;
      const metrics = web.ports.find((p: { name: string }) => p.name === 'metrics');
      assert.equal(metrics?.containerPort, 9464);
      const env = web.env.find((e: { name: string }) => e.name === 'METRICS_PORT')?.value;
      assert.equal(env, String(metrics.containerPort), 'the service listens where the pod says');
      for (const service of ofType(run, 'kubernetes:core/v1:Service')) {
        for (const port of service.inputs.spec.ports) {
          assert.ok(![9464, 'metrics'].includes(port.targetPort), `${service.name} exposes the metrics port`);
        }
      }
      const webPolicies = ofType(run, 'kubernetes:networking.k8s.io/v1:NetworkPolicy').filter(
        (p) => p.inputs.spec.podSelector.matchLabels['app.kubernetes.io/component'] === 'web',
      );
      const rulesFor = (port: number) =>
        webPolicies
          .flatMap((p) => p.inputs.spec.ingress)
          .filter((rule) => rule.ports.some((r: { port: number }) => r.port === port));
      assert.deepEqual(
        rulesFor(9464).map((rule) => rule.from),
        [[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]],
        'the metrics port must admit the pods of metricsNamespace (default monitoring) and nothing else',
      );
      assert.deepEqual(
        rulesFor(5000).map((rule) => rule.from),
        [undefined],
        'the web port stays open to the load balancer',
      );
      const annotations = one(run, 'kubernetes:apps/v1:Deployment').inputs.spec.template.metadata.annotations;
      assert.equal(annotations['prometheus.io/port'], '9464');
    });

    test('everything Kubernetes lives in the stack namespace, deployed with the cluster provider', () => {
      const namespace = one(run, 'kubernetes:core/v1:Namespace');
      assert.equal(namespace.inputs.metadata.name, `two-tier-${stack}`);
      assert.equal(namespace.inputs.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
      for (const object of kubernetesObjects(run)) {
        if (['Namespace', 'StorageClass', 'PersistentVolume', 'PriorityClass'].includes(object.inputs.kind)) continue;
        assert.equal(object.inputs.metadata.namespace, `two-tier-${stack}`, `${object.name} is outside the namespace`);
      }
      for (const object of kubernetesObjects(run)) {
        assert.match(
          object.provider,
          /pulumi:providers:kubernetes::cluster-k8s::/,
          `${object.name} has no cluster provider`,
        );
      }
    });

    test('the cluster provider updates a changed Secret in place, so a new password rolls only the web pods', () => {
      // The provider's default replaces the Secret, and with it every Deployment and StatefulSet reading it.
      const provider = one(run, 'pulumi:providers:kubernetes', 'cluster-k8s');
      assert.equal(String(provider.inputs.enableSecretMutable), 'true');
      assert.equal(String(provider.inputs.enableServerSideApply), 'true');
    });

    test('the web pods tell V8 a heap that fits their memory limit', () => {
      const web = containers(one(run, 'kubernetes:apps/v1:Deployment'))[0];
      const options = web?.env.find((e: { name: string }) => e.name === 'NODE_OPTIONS')?.value;
      const heap = Number(/--max-old-space-size=(\d+)/.exec(options ?? '')?.[1]);
      const limit = Number.parseInt(web?.resources.limits.memory, 10);
      assert.ok(heap > 0 && heap <= limit * 0.7, `heap ${heap} MiB within the ${limit} MiB limit, with room to spare`);
    });

    test('the web tier reaches the database by its Service name, never an IP', () => {
      const dbService = one(run, 'kubernetes:core/v1:Service', `db-${engine}-service`);
      const expectedHost = `${dbService.inputs.metadata.name}.two-tier-${stack}.svc.cluster.local`;
      const web = containers(one(run, 'kubernetes:apps/v1:Deployment'))[0];
      const env = Object.fromEntries(web?.env.map((e: { name: string }) => [e.name, e]));
      assert.equal(env.DB_ENGINE.value, engine);
      if (engine === 'mysql') {
        assert.equal(env.MYSQL_HOST.value, expectedHost);
        assert.doesNotMatch(env.MYSQL_HOST.value, /\d+\.\d+\.\d+\.\d+/);
      } else {
        const secret = one(run, 'kubernetes:core/v1:Secret');
        assert.match(secret.inputs.stringData.url, new RegExp(`@${expectedHost.replaceAll('.', '\\.')}:27017/app\\?`));
        assert.deepEqual(env.MONGODB_URL.valueFrom, {
          secretKeyRef: { name: secret.inputs.metadata.name, key: 'url' },
        });
      }
    });

    test('every secretKeyRef names the Secret and a key it has', () => {
      const secret = one(run, 'kubernetes:core/v1:Secret');
      const keys = Object.keys(secret.inputs.stringData);
      let references = 0;
      for (const workload of workloads(run)) {
        for (const container of containers(workload)) {
          for (const variable of container.env ?? []) {
            const ref = variable.valueFrom?.secretKeyRef;
            if (!ref) continue;
            references++;
            assert.equal(ref.name, secret.inputs.metadata.name, `${variable.name} names another Secret`);
            assert.ok(keys.includes(ref.key), `${variable.name} reads key "${ref.key}", which the Secret lacks`);
          }
        }
      }
      assert.ok(references >= 3, 'passwords must come from the Secret');
    });

    test('every Service selects pods, and its targetPort is a port those pods declare', () => {
      for (const service of ofType(run, 'kubernetes:core/v1:Service')) {
        const workload = workloadOf(run, service);
        assert.ok(workload, `Service ${service.name} selects no workload's pods`);
        const ports = containers(workload).flatMap((c) => c.ports);
        for (const port of service.inputs.spec.ports) {
          assert.ok(
            ports.some(
              (p: { name: string; containerPort: number }) =>
                p.name === port.targetPort || p.containerPort === port.targetPort,
            ),
            `Service ${service.name} targets port ${port.targetPort}, which no container declares`,
          );
        }
      }
    });

    test('probe ports are declared container ports; the web tier probes /health, /ready and starts up', () => {
      for (const workload of workloads(run)) {
        for (const container of containers(workload)) {
          const names = container.ports.map((p: { name: string }) => p.name);
          for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
            assert.ok(container[probe], `${workload.name} has no ${probe}`);
            const port = container[probe].httpGet?.port;
            if (port !== undefined)
              assert.ok(names.includes(port), `${workload.name} ${probe} probes undeclared ${port}`);
          }
        }
      }
      const web = containers(one(run, 'kubernetes:apps/v1:Deployment'))[0] as Container;
      assert.equal(web.livenessProbe.httpGet.path, '/health');
      assert.equal(web.readinessProbe.httpGet.path, '/ready');
      assert.equal(web.ports[0].containerPort, 5000);
    });

    test('no database probe logs in: a password changed in the database first cannot take the database down', () => {
      const db = containers(one(run, 'kubernetes:apps/v1:StatefulSet'))[0] as Container;
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        assert.ok(db[probe], `the database has no ${probe}`);
        const handler = JSON.stringify(db[probe]);
        assert.doesNotMatch(
          handler,
          /PASSWORD|PWD|--password|-p\b|mongosh|\$MYSQL_USER|\$APP_USER/,
          `${probe}: ${handler}`,
        );
      }
      assert.ok(db.startupProbe.periodSeconds * db.startupProbe.failureThreshold >= 300, 'first boot needs room');
      assert.ok(
        db.livenessProbe.periodSeconds * db.livenessProbe.failureThreshold >=
          2 * db.readinessProbe.periodSeconds * db.readinessProbe.failureThreshold,
        'liveness restarts the server only long after readiness took it out of the Service',
      );
    });

    if (engine === 'mysql') {
      test('mysql: every probe is `mysqladmin ping` over TCP as a user that does not exist', () => {
        const db = containers(one(run, 'kubernetes:apps/v1:StatefulSet'))[0] as Container;
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
          assert.deepEqual(db[probe].exec.command, ENGINES.mysql.probe(3306).exec?.command, probe);
        }
        assert.deepEqual(ENGINES.mysql.probe(3306).exec?.command.slice(-1), ['ping']);
      });

      test('mysql: binary logs are off (nothing replicates; 30 days of them would fill the volume)', () => {
        const db = containers(one(run, 'kubernetes:apps/v1:StatefulSet'))[0] as Container;
        assert.ok(db.args.includes('--skip-log-bin'), `args: ${db.args.join(' ')}`);
      });
    } else {
      test('mongodb: the probes start no mongosh and log in as no one: a wire-protocol ping from bash to the pod address', () => {
        const db = containers(one(run, 'kubernetes:apps/v1:StatefulSet'))[0] as Container;
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
          const command: string[] = db[probe].exec?.command ?? [];
          assert.equal(command[0], 'bash', `${probe} runs bash`);
          assert.doesNotMatch(
            command.join(' '),
            /mongosh|PASSWORD|-p /,
            `${probe} starts no client and names no password`,
          );
          assert.match(command.join(' '), /\$POD_IP\/27017/, `${probe} asks the server on the pod's address`);
        }
        assert.deepEqual(
          db.env.find((e: { name: string }) => e.name === 'POD_IP')?.valueFrom,
          { fieldRef: { fieldPath: 'status.podIP' } },
          'the pod knows its address',
        );
      });
    }

    test('a corrected `up` replaces a broken database pod: the StatefulSet rolls pods that are not Ready', () => {
      assert.equal(one(run, 'kubernetes:apps/v1:StatefulSet').inputs.spec.podManagementPolicy, 'Parallel');
    });

    test('the database image is the official one pinned: by digest from Docker Hub, or ECR Public on eks', () => {
      const db = containers(one(run, 'kubernetes:apps/v1:StatefulSet'))[0] as Container;
      const name = engine === 'mysql' ? 'mysql:8\\.4' : 'mongo:8\\.0';
      assert.match(
        db.image,
        stack === 'eks'
          ? new RegExp(`^public\\.ecr\\.aws/docker/library/${name}\\.\\d+$`)
          : new RegExp(`^${name}\\.\\d+@sha256:[0-9a-f]{64}$`),
      );
    });

    test('an interrupted first boot is started again: a guard runs before the entrypoint, a last init script marks it done', () => {
      const statefulSet = one(run, 'kubernetes:apps/v1:StatefulSet');
      const db = containers(statefulSet)[0] as Container;
      const spec = ENGINES[engine];
      assert.deepEqual(db.command, ['bash', '-c', firstBootGuard(spec.dataPath), 'first-boot-guard']);
      assert.deepEqual(db.args, ['docker-entrypoint.sh', ...spec.args]);
      const mounts = Object.fromEntries(db.volumeMounts.map((m: Container) => [m.mountPath, m]));
      assert.deepEqual(mounts[spec.dataPath], { name: 'data', mountPath: spec.dataPath, subPath: 'data' });
      assert.deepEqual(mounts[FIRST_BOOT_STATE], { name: 'data', mountPath: FIRST_BOOT_STATE, subPath: 'two-tier' });
      const initVolume = statefulSet.inputs.spec.template.spec.volumes.find((v: Container) => v.name === 'init');
      const init = one(run, 'kubernetes:core/v1:ConfigMap');
      assert.equal(initVolume?.configMap.name, init.inputs.metadata.name);
      assert.equal(mounts['/docker-entrypoint-initdb.d']?.name, 'init');
      const scripts = Object.keys(init.inputs.data).sort();
      assert.equal(scripts.at(-1), FIRST_BOOT_DONE_SCRIPT, `the done marker must run last of ${scripts.join(', ')}`);
      assert.equal(init.inputs.data[FIRST_BOOT_DONE_SCRIPT], firstBootDone());
      // An engine switch must create a new one beside the old: replacing a shared one deletes the old
      // engine's StatefulSet at the start of the switch (seen on the real node), before its data is copied.
      assert.equal(init.name, `db-${engine}-init`);
      assert.equal(init.inputs.metadata.name, `db-${engine}-init`);
    });

    test('the policy that lets the web pods into the database is named after its engine, as its Services are', () => {
      const policy = one(run, 'kubernetes:networking.k8s.io/v1:NetworkPolicy', `db-${engine}-allow-web`);
      assert.equal(policy.inputs.metadata.name, `db-${engine}-allow-web`);
      assert.deepEqual(policy.inputs.spec.ingress[0].ports, [
        { protocol: 'TCP', port: engine === 'mysql' ? 3306 : 27017 },
      ]);
    });

    test('the database pod has a PriorityClass above the web tier: it is placed first on the node of its zone', () => {
      const statefulSet = one(run, 'kubernetes:apps/v1:StatefulSet');
      const priority = one(run, 'kubernetes:scheduling.k8s.io/v1:PriorityClass');
      assert.equal(statefulSet.inputs.spec.template.spec.priorityClassName, priority.inputs.metadata.name);
      assert.equal(priority.inputs.metadata.name, `two-tier-${stack}-database`);
      const webClass = one(run, 'kubernetes:apps/v1:Deployment').inputs.spec.template.spec.priorityClassName;
      assert.equal(webClass, undefined, 'the web tier keeps the default priority, 0');
      assert.ok(priority.inputs.value > 0);
      assert.equal(priority.inputs.globalDefault, false);
      assert.equal(priority.inputs.preemptionPolicy, 'PreemptLowerPriority');
    });

    test('the StatefulSet names its headless Service and mounts a claim of the configured size', () => {
      const statefulSet = one(run, 'kubernetes:apps/v1:StatefulSet');
      const headless = one(run, 'kubernetes:core/v1:Service', `db-${engine}-headless`);
      assert.equal(headless.inputs.spec.clusterIP, 'None');
      assert.equal(statefulSet.inputs.spec.serviceName, headless.inputs.metadata.name);
      const claim = one(run, 'kubernetes:core/v1:PersistentVolumeClaim');
      assert.equal(claim.inputs.spec.resources.requests.storage, '1Gi');
      assert.equal(claim.inputs.spec.storageClassName, stack === 'eks' ? 'gp3-encrypted' : 'standard');
      const volumes = statefulSet.inputs.spec.template.spec.volumes;
      assert.ok(volumes.some((v: Container) => v.persistentVolumeClaim?.claimName === claim.inputs.metadata.name));
      assert.ok(!volumes.some((v: Container) => v.hostPath), 'hostPath volumes do not survive on managed nodes');
    });

    test('the database is never reachable from outside the cluster', () => {
      for (const name of [`db-${engine}-service`, `db-${engine}-headless`]) {
        const type = one(run, 'kubernetes:core/v1:Service', name).inputs.spec.type ?? 'ClusterIP';
        assert.equal(type, 'ClusterIP', `${name} is exposed as ${type}`);
      }
    });

    test('the web tier: HPA 2 to 5 at 70% CPU owns replicas, rolling updates keep the ready count, PDB, spread', () => {
      const deployment = one(run, 'kubernetes:apps/v1:Deployment');
      assert.equal(deployment.inputs.spec.replicas, undefined, 'the Deployment must leave replicas to the autoscaler');
      assert.deepEqual(deployment.inputs.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
      const hpa = one(run, 'kubernetes:autoscaling/v2:HorizontalPodAutoscaler');
      assert.equal(hpa.inputs.spec.scaleTargetRef.name, deployment.inputs.metadata.name);
      assert.deepEqual([hpa.inputs.spec.minReplicas, hpa.inputs.spec.maxReplicas], [2, 5]);
      assert.equal(hpa.inputs.spec.metrics[0].resource.target.averageUtilization, 70);
      const pdb = one(run, 'kubernetes:policy/v1:PodDisruptionBudget');
      assert.equal(pdb.inputs.spec.minAvailable, 1);
      const pod = deployment.inputs.spec.template.spec;
      assert.equal(pod.topologySpreadConstraints[0].topologyKey, 'kubernetes.io/hostname');
      const web = pod.containers[0];
      assert.ok(
        pod.terminationGracePeriodSeconds > web.lifecycle.preStop.sleep.seconds + 10,
        'grace < preStop + drain',
      );
    });

    test('no secret value is a literal env value, a manifest literal or a stack output', () => {
      const secretValues = run.resources
        .filter((r) => r.type === 'random:index/randomPassword:RandomPassword')
        .map((r) => `${GENERATED_PASSWORD_PREFIX}${r.name}`);
      assert.equal(secretValues.length, 2);
      for (const workload of workloads(run)) {
        const text = JSON.stringify(workload.inputs);
        for (const value of secretValues)
          assert.ok(!text.includes(value), `${workload.name} holds a password literally`);
      }
      const outputs = JSON.stringify(run.outputs);
      for (const value of secretValues) assert.ok(!outputs.includes(value), 'a password appears in the stack outputs');
      for (const workload of workloads(run)) {
        for (const container of containers(workload)) {
          for (const variable of container.env ?? []) {
            if (/PASSWORD|SECRET|TOKEN|MONGODB_URL/.test(variable.name)) {
              assert.equal(variable.value, undefined, `${variable.name} has a literal value`);
            }
          }
        }
      }
    });

    test('no input holds a path of this checkout: another checkout of the same commit sees no diff', () => {
      for (const resource of run.resources) {
        assert.ok(!JSON.stringify(resource.inputs).includes(REPO), `${resource.name} has an absolute path input`);
      }
      const image = one(run, 'docker:index/image:Image');
      assert.deepEqual([image.inputs.build.context, image.inputs.build.dockerfile], ['.', 'service/Dockerfile']);
    });

    test('every Kubernetes object validates against the Kubernetes OpenAPI schema', async () => {
      const objects = kubernetesObjects(run);
      assert.ok(objects.length >= 10);
      for (const object of objects)
        assert.equal(await schemaError(object), undefined, `${object.inputs.kind} ${object.name}`);
    });

    if (stack === 'eks') {
      test('eks: one EKS cluster, a t3.medium data node and a t3.small on standard CPU credits, a pinned version, API auth, no OIDC provider', () => {
        const cluster = one(run, 'eks:index:Cluster');
        assert.equal(cluster.inputs.skipDefaultNodeGroup, true, 'the self-managed default group has gp2 root volumes');
        const groups = ofType(run, 'eks:index:ManagedNodeGroup');
        const template = one(run, 'aws:ec2/launchTemplate:LaunchTemplate');
        for (const nodes of groups) {
          // The data node holds both engines' database pods during an engine switch.
          assert.deepEqual(nodes.inputs.instanceTypes, [
            nodes.name === 'cluster-data-nodes' ? 't3.medium' : 't3.small',
          ]);
          assert.deepEqual(nodes.inputs.launchTemplate, { id: `${template.name}-id`, version: '1' });
        }
        assert.equal(
          groups.reduce((sum, nodes) => sum + nodes.inputs.scalingConfig.desiredSize, 0),
          2,
          'two nodes in all',
        );
        // T3 Unlimited would bill CPU above the baseline; standard credits keep the estimate the bill.
        assert.deepEqual(template.inputs.creditSpecification, { cpuCredits: 'standard' });
        assert.deepEqual(template.inputs.blockDeviceMappings, [
          {
            deviceName: '/dev/xvda',
            ebs: { volumeType: 'gp3', volumeSize: 20, encrypted: 'true', deleteOnTermination: 'true' },
          },
        ]);
        assert.equal(cluster.inputs.vpcCniOptions?.enableNetworkPolicy, true, 'NetworkPolicies would not be enforced');
        assert.equal(cluster.inputs.version, '1.35');
        assert.deepEqual(cluster.inputs.upgradePolicy, { supportType: 'STANDARD' }, 'EKS defaults to extended support');
        assert.equal(cluster.inputs.authenticationMode, 'API');
        assert.equal(cluster.inputs.createOidcProvider, false, 'pods take AWS roles through Pod Identity only');
        assert.equal(cluster.inputs.name, 'two-tier-eks');
        assert.equal(ofType(run, 'aws:ec2/natGateway:NatGateway').length, 0, 'no NAT gateway by default');
      });

      test('eks: the EBS CSI add-on takes its own IAM role through Pod Identity, after the agent; metrics-server is installed', () => {
        const addon = one(run, 'aws:eks/addon:Addon', 'cluster-ebs-csi');
        const role = one(run, 'aws:iam/role:Role', 'cluster-ebs-csi');
        assert.equal(addon.inputs.addonName, 'aws-ebs-csi-driver');
        assert.equal(addon.inputs.serviceAccountRoleArn, undefined, 'IRSA is gone');
        assert.deepEqual(addon.inputs.podIdentityAssociations, [
          { serviceAccount: 'ebs-csi-controller-sa', roleArn: `arn:aws:iam::123456789012:role/${role.name}` },
        ]);
        assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement, [
          {
            Effect: 'Allow',
            Principal: { Service: 'pods.eks.amazonaws.com' },
            Action: ['sts:AssumeRole', 'sts:TagSession'],
          },
        ]);
        assert.ok(addon.dependencies.includes(one(run, 'aws:eks/addon:Addon', 'cluster-pod-identity-agent').urn));
        assert.equal(
          ofType(run, 'aws:eks/podIdentityAssociation:PodIdentityAssociation').filter(
            (a) => a.inputs.serviceAccount === 'ebs-csi-controller-sa',
          ).length,
          0,
          'the add-on owns its association',
        );
        const attachment = one(run, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment', 'cluster-ebs-csi');
        assert.equal(attachment.inputs.policyArn, 'arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy');
        assert.equal(one(run, 'aws:eks/addon:Addon', 'cluster-metrics-server').inputs.addonName, 'metrics-server');
      });

      test('eks: the default StorageClass is encrypted gp3 on the CSI driver, bound where the pod lands', () => {
        const storageClass = one(run, 'kubernetes:storage.k8s.io/v1:StorageClass');
        assert.equal(storageClass.inputs.provisioner, 'ebs.csi.aws.com');
        assert.equal(storageClass.inputs.parameters.type, 'gp3');
        assert.equal(storageClass.inputs.parameters.encrypted, 'true');
        assert.equal(storageClass.inputs.volumeBindingMode, 'WaitForFirstConsumer');
        assert.equal(storageClass.inputs.metadata.annotations['storageclass.kubernetes.io/is-default-class'], 'true');
      });

      test('eks: the image is built for linux/amd64 without a preview build, pushed to ECR, referenced by digest', () => {
        const repository = one(run, 'aws:ecr/repository:Repository');
        assert.equal(repository.inputs.forceDelete, true);
        assert.equal(repository.inputs.imageScanningConfiguration.scanOnPush, true);
        one(run, 'aws:ecr/lifecyclePolicy:LifecyclePolicy');
        const image = one(run, 'docker:index/image:Image');
        assert.equal(image.inputs.build.platform, 'linux/amd64');
        assert.equal(image.inputs.buildOnPreview, false);
        assert.equal(image.inputs.registry.server, `123456789012.dkr.ecr.ap-south-1.amazonaws.com/two-tier-eks/web`);
        assert.ok(
          run.outputs.image?.value?.toString().endsWith(`@${MOCK_DIGEST}`),
          'the image output is not by digest',
        );
        const web = containers(one(run, 'kubernetes:apps/v1:Deployment'))[0];
        assert.equal(web?.image, run.outputs.image?.value);
      });

      test('eks: the region is ap-south-1 from the stack file', () => {
        assert.equal(stackConfig(REPO, 'eks').config['aws:region'], 'ap-south-1');
        for (const resource of run.resources)
          assert.equal(resource.inputs.region, undefined, `${resource.name} overrides the region`);
      });
    } else {
      test('local: no AWS or EKS resource at all; the image is loaded into kind with a content tag', () => {
        const cloud = run.resources.filter((r) => /^(aws|eks):/.test(r.type) || r.type === 'pulumi:providers:aws');
        assert.deepEqual(
          cloud.map((r) => r.type),
          [],
        );
        const image = one(run, 'docker:index/image:Image');
        assert.equal(image.inputs.skipPush, true);
        assert.match(image.inputs.imageName, /^two-tier-web:[0-9a-f]{12}$/);
        const load = one(run, 'command:local:Command');
        assert.equal(load.inputs.create, `kind load docker-image ${image.inputs.imageName} --name kind`);
        const deployment = one(run, 'kubernetes:apps/v1:Deployment');
        assert.ok(deployment.dependencies.includes(load.urn), 'pods could start before the image is in kind');
      });
    }
  });
}

describe('pulumi program: configuration', () => {
  test('a wrong dbEngine or target fails with one line naming the key and the allowed values', async () => {
    const badEngine = await runProgram('dev', { dbEngine: 'postgres' });
    assert.deepEqual(badEngine.errors, [
      'config two-tier:dbEngine must be one of mysql, mongodb; it is "postgres" (set it with: pulumi config set dbEngine <value>)',
    ]);
    const badTarget = await runProgram('dev', { target: 'gke' });
    assert.deepEqual(badTarget.errors, [
      'config two-tier:target must be one of eks, local; it is "gke" (set it with: pulumi config set target <value>)',
    ]);
    assert.equal(badTarget.resources.length, 0, 'resources were registered before the config was checked');
  });

  test('passwords set with `pulumi config set --secret` are used instead of generated ones', async () => {
    const run = await runProgram('dev', { dbPassword: 'brought-my-own-1', dbRootPassword: 'brought-my-own-2' }, [
      'dbPassword',
      'dbRootPassword',
    ]);
    assert.deepEqual(run.errors, []);
    assert.equal(ofType(run, 'random:index/randomPassword:RandomPassword').length, 0);
    const secret = one(run, 'kubernetes:core/v1:Secret');
    assert.equal(secret.inputs.stringData.password, 'brought-my-own-1');
    assert.ok(!JSON.stringify(run.outputs).includes('brought-my-own'));
  });

  test('a dbPassword or dbRootPassword the images would put into SQL unquoted fails the preview, never showing it', async () => {
    for (const [key, value] of [
      ['dbPassword', "it's-mine-1"],
      ['dbPassword', 'back\\slash-2'],
      ['dbRootPassword', 'say "hello" 3'],
      ['dbRootPassword', ''],
    ] as const) {
      const run = await runProgram('dev', { [key]: value }, [key]);
      assert.equal(run.errors.length, 1, `${JSON.stringify(value)} was accepted for ${key}`);
      const [message] = run.errors as [string];
      assert.match(
        message,
        new RegExp(`^config two-tier:${key} must be one or more letters, digits and these symbols:`),
      );
      assert.match(message, /no spaces, quotes or backslashes/);
      assert.match(message, new RegExp(`pulumi config set --secret ${key} `));
      if (value) assert.ok(!message.includes(value), 'the error shows the password');
      assert.equal(run.resources.length, 0, 'resources were registered before the passwords were checked');
    }
    const symbols = 'Aa1!#$%&()*+,-./:;<=>?@[]^_`{|}~';
    const accepted = await runProgram('dev', { dbPassword: symbols, dbRootPassword: 'x'.repeat(200) }, [
      'dbPassword',
      'dbRootPassword',
    ]);
    assert.deepEqual(accepted.errors, []);
    assert.equal(one(accepted, 'kubernetes:core/v1:Secret').inputs.stringData.password, symbols);
  });

  for (const stack of ['dev', 'eks'] as const) {
    test(`${stack}: webImage deploys that reference and builds, pushes and loads nothing`, async () => {
      const reference = `registry.example.com/team/web:1.4.2@sha256:${'cd'.repeat(32)}`;
      const run = await runProgram(stack, { webImage: reference });
      assert.deepEqual(run.errors, []);
      // Commands of the image (the kind load), not the snapshot prune, which runs only at destroy.
      const building = run.resources.filter(
        (r) =>
          /^docker:|^aws:ecr\//.test(r.type) ||
          (r.type === 'command:local:Command' && r.name !== 'data-snapshots-prune-mysql'),
      );
      assert.deepEqual(
        building.map((r) => r.type),
        [],
        'a prebuilt image still needs Docker or a registry',
      );
      assert.equal(containers(one(run, 'kubernetes:apps/v1:Deployment'))[0]?.image, reference);
      assert.equal(run.outputs.image?.value, reference);
    });
  }

  test('metricsNamespace names the one namespace whose pods reach the metrics port; a name Kubernetes refuses fails the preview', async () => {
    const run = await runProgram('dev', { metricsNamespace: 'observability' });
    assert.deepEqual(run.errors, []);
    const policy = one(run, 'kubernetes:networking.k8s.io/v1:NetworkPolicy', 'web-allow-metrics');
    assert.deepEqual(policy.inputs.spec.ingress, [
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } }],
        ports: [{ protocol: 'TCP', port: 9464 }],
      },
    ]);
    for (const value of ['Monitoring', 'monitoring_1', '-monitoring', 'm'.repeat(64)]) {
      const bad = await runProgram('dev', { metricsNamespace: value });
      assert.equal(bad.errors.length, 1, `${value} was accepted`);
      assert.match(bad.errors[0] as string, /^config two-tier:metricsNamespace must be a namespace name \(/);
      assert.equal(bad.resources.length, 0, 'resources were registered before the config was checked');
    }
  });

  for (const key of ['webImage', 'dbImage']) {
    test(`a malformed, untagged or :latest ${key} fails with one line naming the key`, async () => {
      for (const [value, problem] of [
        ['registry.example.com/Team/Web:1.0', /is not an image reference/],
        ['web 1.0', /is not an image reference/],
        ['registry.example.com/team/web', /has neither a tag nor a digest/],
        ['registry.example.com/team/web:latest', /is :latest, which is not pinned/],
      ] as const) {
        const run = await runProgram('dev', { [key]: value });
        assert.equal(run.errors.length, 1, `${value} was accepted`);
        assert.match(run.errors[0] as string, new RegExp(`^config two-tier:${key} `));
        assert.match(run.errors[0] as string, problem);
        assert.equal(run.resources.length, 0, 'resources were registered before the config was checked');
      }
    });
  }

  for (const [stack, engine] of [
    ['dev', 'mysql'],
    ['eks', 'mongodb'],
  ] as const) {
    test(`${stack}, ${engine}: dbImage is the database container's image, and only the database's`, async () => {
      const reference = `mirror.example.com/library/${engine}:1.2.3@sha256:${'ef'.repeat(32)}`;
      const run = await runProgram(stack, { dbEngine: engine, dbImage: reference });
      assert.deepEqual(run.errors, []);
      assert.equal(containers(one(run, 'kubernetes:apps/v1:StatefulSet'))[0]?.image, reference);
      assert.notEqual(containers(one(run, 'kubernetes:apps/v1:Deployment'))[0]?.image, reference);
    });
  }

  test('a new dbPassword changes the web pod template (the pods roll), and the template never holds it', async () => {
    const withPassword = (dbPassword: string) =>
      runProgram('dev', { dbPassword, dbRootPassword: 'root-password-unchanged' }, ['dbPassword', 'dbRootPassword']);
    const [first, again, rotated] = await Promise.all([
      withPassword('first-password-1'),
      withPassword('first-password-1'),
      withPassword('second-password-2'),
    ]);
    const template = (run: ProgramRun) => one(run, 'kubernetes:apps/v1:Deployment').inputs.spec.template;
    const checksum = (run: ProgramRun) => template(run).metadata.annotations?.['two-tier/credentials-checksum'];
    assert.match(String(checksum(first)), /^[0-9a-f]{64}$/);
    assert.equal(checksum(again), checksum(first), 'the same password must not roll the pods');
    assert.notEqual(checksum(rotated), checksum(first), 'a new password leaves the pod template unchanged');
    for (const run of [first, rotated]) {
      assert.ok(!/first-password|second-password/.test(JSON.stringify(template(run))), 'the template holds a password');
    }
  });

  test('switching dbEngine creates a new StatefulSet, claim and Services and removes the old ones: no shared volume', async () => {
    const [mysql, mongodb] = await Promise.all([
      runProgram('eks', { dbEngine: 'mysql' }),
      runProgram('eks', { dbEngine: 'mongodb' }),
    ]);
    const perEngine = (run: ProgramRun) =>
      run.resources
        .filter((r) =>
          [
            'kubernetes:apps/v1:StatefulSet',
            'kubernetes:core/v1:PersistentVolumeClaim',
            'kubernetes:core/v1:Service',
            // One policy shared by both engines would change its port under the old engine's web pods.
            'kubernetes:networking.k8s.io/v1:NetworkPolicy',
          ].includes(r.type),
        )
        .filter((r) => r.name.startsWith('db-'));
    for (const [a, b] of [
      [mysql, mongodb],
      [mongodb, mysql],
    ] as const) {
      assert.equal(perEngine(a).length, 5);
      for (const resource of perEngine(a)) {
        assert.ok(
          !perEngine(b).some((other) => other.urn === resource.urn),
          `${resource.name} would be replaced in place`,
        );
        assert.ok(
          !perEngine(b).some(
            (other) => other.type === resource.type && other.inputs.metadata.name === resource.inputs.metadata.name,
          ),
          `both engines name a ${resource.type} ${resource.inputs.metadata.name}`,
        );
      }
    }
    for (const run of [mysql, mongodb]) {
      const claim = one(run, 'kubernetes:core/v1:PersistentVolumeClaim');
      const statefulSet = one(run, 'kubernetes:apps/v1:StatefulSet');
      assert.ok(
        statefulSet.dependencies.includes(claim.urn),
        'the old claim could be deleted while its pod still holds it',
      );
    }
  });

  test("an engine's tier, when an engine switch deletes it, outlives the web pods rolled away from it", async () => {
    for (const engine of ['mysql', 'mongodb']) {
      const run = await runProgram('dev', { dbEngine: engine });
      const delay = one(run, 'pulumi-nodejs:dynamic:DeleteDelay');
      const web = one(run, 'kubernetes:apps/v1:Deployment');
      assert.match(delay.name, new RegExp(`-${engine}-`), 'named after its engine, so a switch deletes it');
      assert.equal(
        delay.inputs.seconds,
        web.inputs.spec.template.spec.terminationGracePeriodSeconds,
        "its deletion lasts the web pods' grace period: the longest a rolled-away pod runs",
      );
      const kept = [
        one(run, 'kubernetes:apps/v1:StatefulSet'),
        ...ofType(run, 'kubernetes:core/v1:Service').filter((service) => service.name.startsWith(`db-${engine}`)),
        ...ofType(run, 'kubernetes:networking.k8s.io/v1:NetworkPolicy').filter((policy) =>
          policy.name.endsWith('-allow-web'),
        ),
      ];
      assert.equal(kept.length, 4, 'the StatefulSet, two Services and the policy that lets the web pods in');
      for (const resource of kept)
        assert.ok(delay.dependencies.includes(resource.urn), `${resource.name} could go before the delay ends`);
    }
  });

  test("local: the image is built for the nodes' platform, and a recreated kind cluster gets it loaded again", async () => {
    const folder = await mkdtemp(join(tmpdir(), 'two-tier-kubeconfig-'));
    try {
      const kubeconfig = async (file: string, ca: string) => {
        const config = {
          'current-context': 'kind-kind',
          contexts: [{ name: 'kind-kind', context: { cluster: 'kind-kind' } }],
          clusters: [
            { name: 'kind-kind', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': ca } },
          ],
        };
        await writeFile(join(folder, file), JSON.stringify(config));
        return { KUBECONFIG: join(folder, file) };
      };
      const [first, again, recreated, arm] = await Promise.all([
        runProgram('dev', {}, [], await kubeconfig('first', 'Zmlyc3Q=')),
        runProgram('dev', {}, [], await kubeconfig('again', 'Zmlyc3Q=')),
        runProgram('dev', {}, [], await kubeconfig('recreated', 'c2Vjb25k')),
        runProgram('dev', { imagePlatform: 'linux/arm64' }),
      ]);
      const triggers = (run: ProgramRun) => one(run, 'command:local:Command').inputs.triggers;
      assert.deepEqual(triggers(again), triggers(first), 'the same cluster would get the image loaded again');
      assert.notDeepEqual(triggers(recreated), triggers(first), 'a recreated kind cluster never gets the image');
      const platform = one(first, 'docker:index/image:Image').inputs.build.platform;
      assert.equal(platform, `linux/${process.arch === 'arm64' ? 'arm64' : 'amd64'}`);
      assert.equal(one(arm, 'docker:index/image:Image').inputs.build.platform, 'linux/arm64');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  test('every key the stack files set is declared, with a default or a description, in Pulumi.yaml', () => {
    for (const stack of ['dev', 'eks']) {
      const declared = Object.keys(stackConfig(REPO, stack).config);
      for (const keyName of stackFileKeys(REPO, stack))
        assert.ok(declared.includes(keyName), `${keyName} is not declared`);
    }
  });

  test('exactly one copy of @pulumi/pulumi is installed (a nested copy makes mocks miss resources)', () => {
    const root = require.resolve('@pulumi/pulumi');
    for (const pkg of ['aws', 'eks', 'kubernetes', 'docker', 'random', 'command']) {
      const from = dirname(require.resolve(`@pulumi/${pkg}/package.json`));
      assert.equal(
        require.resolve('@pulumi/pulumi', { paths: [from] }),
        root,
        `@pulumi/${pkg} has its own @pulumi/pulumi`,
      );
    }
  });
});
