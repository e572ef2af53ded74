import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { checkCapacity, parseRequests } from '../infra/capacity';
import { type CostInput, monthlyCost, PRICES, STANDARD_SUPPORT_ENDS } from '../infra/cost';
import { DATABASE_RESOURCES } from '../infra/database';
import { sourceHash } from '../infra/image';
import { INSTANCE_TYPES } from '../infra/instance-types';
import { stackConfig } from '../infra/stack-config';
import { WEB_RESOURCES } from '../infra/web-tier';
import { one, type ProgramRun, runProgram } from './support/program';
import { REPO } from './support/server-process';

const DEFAULT_EKS = {
  instanceType: 't3.small',
  nodeCount: 2,
  webMaxReplicas: 5,
  web: parseRequests(WEB_RESOURCES.requests),
  database: parseRequests(DATABASE_RESOURCES.requests),
};

describe('capacity, checked before anything is created', () => {
  test('the default eks stack fits a t3.medium data node and a t3.small, during an engine switch too, with the load balancer controller and the Pod Identity agent counted', () => {
    const report = checkCapacity(DEFAULT_EKS);
    assert.equal(report.fits, true, report.message);
    assert.equal(report.dataInstanceType, 't3.medium', 'the smallest t3 that holds both engines beside the add-ons');
    assert.deepEqual(report.needed, { cpuMilli: 2030, memoryMiB: 3396, pods: 23 });
    assert.deepEqual(report.offered, { cpuMilli: 3860, memoryMiB: 4695, pods: 28 });
    assert.match(
      report.summary,
      /^capacity of 1 x t3\.medium \(the data node\) \+ 1 x t3\.small \(the VPC CNI allows 11 pods a t3\.small\): 23 of 28 pods, 2030m of 3860m CPU/,
    );
    assert.match(report.summary, /2 eks-pod-identity-agent, .*1 aws-load-balancer-controller$/);
  });

  test("the preview says what the capacity check counted, the controller's and the agent's pods among it", async () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'test/support/program-child.ts')], {
      env: {
        ...process.env,
        PROGRAM_STACK: 'eks',
        PROGRAM_RESULT: join(tmpdir(), `two-tier-capacity-${process.pid}.json`),
      },
      encoding: 'utf8',
    });
    const said = `${child.stdout}${child.stderr}`;
    assert.match(
      said,
      /capacity of 1 x t3\.medium .*23 of 28 pods.*eks-pod-identity-agent.*aws-load-balancer-controller/,
    );
    assert.match(said, /a stack that had the Classic ELB gets a new URL/);
    assert.match(
      said,
      /the data node is a t3\.medium, sized for an engine switch; a stack whose data node was another type gets a new data node group/,
    );
  });

  test("an engine switch needs both engines' database pods on the data node: a t3.small cannot hold them, and the preview says so", async () => {
    // A t3.small data node: 798 MiB left after the daemon sets and one replica of each add-on; two databases need 1024.
    const small = checkCapacity({ ...DEFAULT_EKS, dataInstanceType: 't3.small' });
    assert.equal(small.fits, false, 'an engine switch that leaves the new database Pending was accepted');
    assert.equal(
      small.message,
      "an engine switch cannot be scheduled: both engines' database pods run on the node in their disks' zone (the data node group's one t3.small) until the web pods have copied the data, and they request 2 x 250m CPU and 2 x 512 MiB; that node has 1515m and 798 MiB left beside the daemon sets and the add-on pods there. Change one of: dataInstanceType t3.medium; smaller requests in infra/database.ts.",
    );
    const [picked, refused, otherFamily] = await Promise.all([
      runProgram('eks'),
      runProgram('eks', { dataInstanceType: 't3.small' }),
      runProgram('eks', { dataInstanceType: 'm5.large' }),
    ]);
    assert.deepEqual(picked.errors, []);
    assert.deepEqual(one(picked, 'eks:index:ManagedNodeGroup', 'cluster-data-nodes').inputs.instanceTypes, [
      't3.medium',
    ]);
    assert.deepEqual(one(picked, 'eks:index:ManagedNodeGroup', 'cluster-nodes').inputs.instanceTypes, ['t3.small']);
    assert.deepEqual(refused.errors, [small.message]);
    assert.equal(refused.resources.length, 0, 'resources were registered although a switch cannot be scheduled');
    assert.deepEqual(otherFamily.errors, [
      'config two-tier:dataInstanceType must be of instanceType\'s family (t3.*); it is "m5.large" (leave it empty to have it picked)',
    ]);
  });

  test('an HPA maximum of 20 on the default nodes fails the preview with one message: what, by how much, what to change', async () => {
    const run = await runProgram('eks', { webMaxReplicas: 20 });
    assert.equal(run.errors.length, 1);
    const [message] = run.errors as [string];
    assert.match(
      message,
      /^the workload does not fit 1 x t3\.medium \(the data node\) \+ 1 x t3\.small: 10 web pod\(s\) cannot be scheduled\./,
    );
    assert.match(
      message,
      /short of memory by 981 MiB, pods by 10 \(the VPC CNI allows 11 a node, 17 on the data node\)/,
    );
    assert.match(
      message,
      /Change one of: webMaxReplicas 10 or fewer; instanceType t3\.large; nodeCount 4; smaller requests/,
    );
    assert.equal(message.split('\n').length, 1);
    assert.equal(run.resources.length, 0, 'resources were registered although the workload does not fit');
  });

  test('one more replica than fits is refused; a larger instance type or one more node fixes it', () => {
    assert.equal(checkCapacity({ ...DEFAULT_EKS, webMaxReplicas: 10 }).fits, true);
    assert.equal(checkCapacity({ ...DEFAULT_EKS, webMaxReplicas: 11 }).fits, false);
    assert.equal(checkCapacity({ ...DEFAULT_EKS, webMaxReplicas: 11, instanceType: 't3.medium' }).fits, true);
    assert.equal(checkCapacity({ ...DEFAULT_EKS, webMaxReplicas: 11, nodeCount: 3 }).fits, true);
  });

  test("the database must fit the node in its volume's zone beside the system pods there, not just the cluster", () => {
    // 3 x t3.small: 1308 MiB a node after the daemon sets; one replica of each add-on on each of the first two (510 MiB).
    const report = checkCapacity({
      ...DEFAULT_EKS,
      dataInstanceType: 't3.small',
      nodeCount: 3,
      webMaxReplicas: 1,
      database: { cpuMilli: 250, memoryMiB: 900 },
    });
    assert.equal(report.fits, false, 'a database larger than its node was accepted');
    assert.ok(report.needed.memoryMiB < report.offered.memoryMiB, 'the test needs a cluster with room in total');
    assert.match(
      report.message,
      /^the database does not fit the node in its volume's zone \(the data node group's one t3\.small\): it requests 250m CPU and 900 MiB; that node has 1515m and 798 MiB left beside the daemon sets and the add-on pods there\. Change one of: dataInstanceType t3\.medium; smaller requests in infra\/database\.ts\.$/,
    );
  });

  test('the instance-type table covers the t3 and m5 families, with the VPC CNI pod limits', () => {
    for (const size of ['nano', 'micro', 'small', 'medium', 'large', 'xlarge', '2xlarge'])
      assert.ok(INSTANCE_TYPES[`t3.${size}`]);
    for (const size of ['large', 'xlarge', '2xlarge', '4xlarge']) assert.ok(INSTANCE_TYPES[`m5.${size}`]);
    assert.equal(INSTANCE_TYPES['t3.small']?.maxPods, 11);
    assert.equal(INSTANCE_TYPES['m5.large']?.maxPods, 29);
    assert.throws(() => checkCapacity({ ...DEFAULT_EKS, instanceType: 'x9.huge' }), /x9\.huge is not in the table/);
  });
});

/** The default eks stack's settings, as index.ts hands them to the estimate. */
const DEFAULT_COST: CostInput = {
  instanceType: 't3.small',
  dataInstanceType: 't3.medium',
  nodeCount: 2,
  nodeVolumeSizeGi: 20,
  dbVolumeSizeGi: 1,
  snapshotsKept: 7,
  engines: 2,
  supportType: 'STANDARD',
  zones: 2,
  domain: false,
};

describe('cost', () => {
  test('the eks stack exports its monthly estimate; the local stack exports 0', async () => {
    const [eks, dev] = await Promise.all([runProgram('eks'), runProgram('dev')]);
    assert.equal(eks.outputs.estimatedMonthlyCostUsd?.value, 163.36);
    assert.equal(dev.outputs.estimatedMonthlyCostUsd?.value, 0);
  });

  test("after an engine switch both engines keep dbSnapshotsKept snapshots: the estimate counts each engine's", async () => {
    const [mysql, mongodb] = await Promise.all([
      runProgram('eks', { dbEngine: 'mysql', dbSnapshotsKept: 10, dbVolumeSizeGi: 4 }),
      runProgram('eks', { dbEngine: 'mongodb', dbSnapshotsKept: 10, dbVolumeSizeGi: 4 }),
    ]);
    const snapshots = 2 * 10 * 4 * PRICES.ebsSnapshotGibMonth;
    for (const run of [mysql, mongodb]) {
      const withoutSnapshots = monthlyCost({ ...DEFAULT_COST, dbVolumeSizeGi: 4, snapshotsKept: 0 }).total;
      assert.ok(
        Math.abs(Number(run.outputs.estimatedMonthlyCostUsd?.value) - withoutSnapshots - snapshots) <= 0.01,
        `the snapshots count ${Number(run.outputs.estimatedMonthlyCostUsd?.value) - withoutSnapshots}, not both engines' ${snapshots}`,
      );
    }
  });

  test("the control-plane logs' CloudWatch ingestion is named as not included, with its price, in the preview and the README", async () => {
    const [logs, quiet] = await Promise.all([
      runProgram('eks', { controlPlaneLogs: true }),
      runProgram('eks', { controlPlaneLogs: false }),
    ]);
    const notice = /estimatedMonthlyCostUsd leaves out usage-based charges: data transfer, load balancer traffic/;
    assert.match(logs.log, notice);
    assert.match(
      logs.log,
      /and CloudWatch ingestion of the control-plane logs \(api, audit, authenticator\) at \$0\.5 per GB/,
    );
    assert.match(quiet.log, notice);
    assert.doesNotMatch(quiet.log, /CloudWatch/, 'no logs, no ingestion to name');
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    assert.match(readme, /Not included\b.*CloudWatch ingestion of the control-plane logs \(\$0\.50 per GB/s);
  });

  test('the default breakdown, from the dated ap-south-1 price table', () => {
    assert.equal(PRICES.date, '2026-11-01');
    assert.deepEqual(monthlyCost(DEFAULT_COST), {
      controlPlane: 73,
      // The t3.medium data node and a t3.small.
      nodes: 49.06,
      nodeVolumes: 3.65,
      nodePublicIps: 7.3,
      databaseVolume: 0.09,
      // 7 of each engine's disk.
      databaseSnapshots: 0.7,
      // The ALB's hour and one LCU all month: estimates from the us-east-1 example prices, said so in infra/cost.ts.
      loadBalancer: 16.43,
      loadBalancerCapacityUnits: 5.84,
      // One public IPv4 address for each zone the load balancer is enabled in: both subnets' zones.
      loadBalancerPublicIps: 7.3,
      hostedZone: 0,
      total: 163.36,
    });
  });

  test("the ALB's lines replace the Classic ELB's; a domain adds its hosted zone's fee", async () => {
    assert.equal('classicLoadBalancerHourly' in PRICES, false);
    const withDomain = await runProgram('eks', { domain: 'board.example.com' });
    assert.deepEqual(withDomain.errors, []);
    assert.equal(withDomain.outputs.estimatedMonthlyCostUsd?.value, 163.36 + PRICES.hostedZoneMonthlyEstimate);
  });

  test("the control plane is priced by the stack's own eksSupportType, the setting the cluster is given", async () => {
    const extended = await runProgram('eks', { eksSupportType: 'EXTENDED' });
    assert.deepEqual(extended.errors, []);
    assert.deepEqual(one(extended, 'eks:index:Cluster').inputs.upgradePolicy, { supportType: 'EXTENDED' });
    assert.equal(extended.outputs.estimatedMonthlyCostUsd?.value, 163.36 + 0.5 * 730);
  });

  test('the kept snapshots of the disk are priced at the dated snapshot price: a full copy of the disk each, at most', async () => {
    assert.equal(PRICES.ebsSnapshotGibMonth, 0.05);
    const [defaults, more] = await Promise.all([
      runProgram('eks'),
      runProgram('eks', { dbSnapshotsKept: 14, dbVolumeSizeGi: 10 }),
    ]);
    assert.deepEqual(more.errors, []);
    const volumeMore = 0.0912 * 9;
    const snapshotsMore = 0.05 * 2 * (14 * 10 - 7 * 1);
    assert.ok(
      Math.abs(
        Number(more.outputs.estimatedMonthlyCostUsd?.value) -
          Number(defaults.outputs.estimatedMonthlyCostUsd?.value) -
          volumeMore -
          snapshotsMore,
      ) <= 0.01,
      `the estimate moved by ${Number(more.outputs.estimatedMonthlyCostUsd?.value) - Number(defaults.outputs.estimatedMonthlyCostUsd?.value)}, not by the disk and its 14 snapshots of each engine`,
    );
  });

  test('the default Kubernetes version is in standard support on 2026-11-22 and for three months after', () => {
    const version = stackConfig(REPO, 'eks').config['two-tier:kubernetesVersion'] as string;
    const ends = STANDARD_SUPPORT_ENDS[version];
    assert.ok(ends, `no standard-support date for ${version} in infra/cost.ts`);
    assert.ok(ends > '2027-02-22', `${version} leaves standard support on ${ends}`);
  });

  test("doubling the nodes moves the estimate by the nodes' price and nothing else", () => {
    const two = monthlyCost(DEFAULT_COST);
    const four = monthlyCost({ ...DEFAULT_COST, nodeCount: 4 });
    // Two more t3.small nodes: the instances, their root volumes and their public addresses.
    const nodesPrice = 2 * (INSTANCE_TYPES['t3.small']?.hourlyUsd ?? 0) * 730 + two.nodeVolumes + two.nodePublicIps;
    assert.ok(
      Math.abs(four.total - two.total - nodesPrice) <= 0.01,
      `moved by ${four.total - two.total}, not ${nodesPrice}`,
    );
    assert.equal(four.controlPlane, two.controlPlane);
    assert.equal(four.loadBalancer, two.loadBalancer);
  });
});

describe('destroy leaves nothing billable: the dependency order under mocks', () => {
  let run: ProgramRun;
  let protectedRun: ProgramRun;
  before(async () => {
    [run, protectedRun] = await Promise.all([runProgram('eks'), runProgram('eks', { protectData: true })]);
    assert.deepEqual(run.errors, []);
    assert.deepEqual(protectedRun.errors, []);
  });

  const urn = (r: ProgramRun, type: string, name: string) => one(r, type, name).urn;

  test('the web Service and Ingress go before the controller, the add-ons and the cluster, through the cluster provider', () => {
    const service = one(run, 'kubernetes:core/v1:Service', 'web-service');
    assert.equal(service.inputs.spec.type, 'ClusterIP');
    const provider = one(run, 'pulumi:providers:kubernetes', 'cluster-k8s');
    assert.ok(service.provider.startsWith(provider.urn), 'the Service is not deployed through the cluster provider');
    assert.ok(
      provider.dependencies.includes(urn(run, 'eks:index:Cluster', 'cluster-eks')),
      'the provider does not depend on the cluster',
    );
    for (const [type, name] of [
      ['aws:eks/addon:Addon', 'cluster-ebs-csi'],
      ['aws:eks/addon:Addon', 'cluster-metrics-server'],
      ['kubernetes:storage.k8s.io/v1:StorageClass', 'cluster-gp3'],
      ['aws:eks/addon:Addon', 'cluster-pod-identity-agent'],
      ['kubernetes:helm.sh/v3:Release', 'cluster-load-balancer-controller'],
    ] as const) {
      assert.ok(service.dependencies.includes(urn(run, type, name)), `the Service does not depend on ${name}`);
      assert.ok(
        one(run, 'kubernetes:networking.k8s.io/v1:Ingress', 'web-ingress').dependencies.includes(urn(run, type, name)),
        `the Ingress does not depend on ${name}`,
      );
    }
  });

  test("the database disk is the stack's own: destroy deletes it after the pod, claim and PV, while the CSI driver runs", () => {
    const volume = one(run, 'aws:ebs/volume:Volume');
    assert.deepEqual([volume.inputs.type, volume.inputs.encrypted, volume.inputs.size], ['gp3', true, 1]);
    assert.equal(volume.inputs.availabilityZone, 'ap-south-1a');
    assert.equal(volume.retainOnDelete, false);
    const pv = one(run, 'kubernetes:core/v1:PersistentVolume');
    const claim = one(run, 'kubernetes:core/v1:PersistentVolumeClaim');
    const statefulSet = one(run, 'kubernetes:apps/v1:StatefulSet');
    assert.equal(pv.inputs.spec.csi.volumeHandle, volume.name.concat('-id'));
    assert.equal(pv.inputs.spec.persistentVolumeReclaimPolicy, 'Retain', 'the CSI driver must not race Pulumi');
    assert.deepEqual(pv.inputs.spec.claimRef, { namespace: 'two-tier-eks', name: claim.inputs.metadata.name });
    assert.equal(claim.inputs.spec.volumeName, pv.inputs.metadata.name);
    const addon = urn(run, 'aws:eks/addon:Addon', 'cluster-ebs-csi');
    for (const [dependent, dependency] of [
      [statefulSet, claim.urn],
      [claim, pv.urn],
      [pv, volume.urn],
      [volume, addon],
      [pv, addon],
    ] as const) {
      assert.ok(dependent.dependencies.includes(dependency), `${dependent.name} is not deleted before ${dependency}`);
    }
  });

  test('nothing is `protect`ed: the scheduled destroy never stops half-way, with or without protectData', () => {
    for (const r of [run, protectedRun]) {
      assert.deepEqual(
        r.resources.filter((resource) => resource.protect).map((resource) => resource.name),
        [],
      );
    }
  });

  test('protectData keeps only the disk, and toggling it changes no resource input (StorageClass included)', () => {
    assert.equal(one(protectedRun, 'aws:ebs/volume:Volume').retainOnDelete, true);
    const retained = protectedRun.resources.filter((r) => r.retainOnDelete).map((r) => r.type);
    assert.deepEqual(retained, ['aws:ebs/volume:Volume'], 'destroy would leave more than the disk behind');
    for (const resource of run.resources) {
      const other = one(protectedRun, resource.type, resource.name);
      assert.deepEqual(other.inputs, resource.inputs, `toggling protectData updates ${resource.name}`);
    }
    assert.equal(one(run, 'kubernetes:storage.k8s.io/v1:StorageClass').inputs.reclaimPolicy, 'Delete');
  });

  test('local protectData keeps the claim and its namespace, and protects nothing', async () => {
    const local = await runProgram('dev', { protectData: true });
    assert.deepEqual(local.errors, []);
    assert.deepEqual(
      local.resources
        .filter((r) => r.retainOnDelete)
        .map((r) => r.type)
        .sort(),
      ['kubernetes:core/v1:Namespace', 'kubernetes:core/v1:PersistentVolumeClaim'],
    );
    assert.ok(local.resources.every((r) => !r.protect));
  });

  test("README: destroy's DependencyViolation is put down to the VPC CNI's leftover interfaces, with how to find them", async () => {
    // The load balancer's Service is deleted before the add-ons, the nodes and the cluster (test above), so its
    // interfaces are long gone when destroy reaches the subnets.
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    // The section runs to the next heading of its level, wherever the README puts it.
    const start = readme.indexOf('\n## Destroy');
    assert.ok(start >= 0, 'the README has no Destroy section');
    const destroy = readme.slice(start, readme.indexOf('\n## ', start + 1));
    assert.doesNotMatch(destroy, /not yet\s+released the load balancer's network interfaces/);
    assert.match(destroy, /VPC CNI/);
    assert.match(destroy, /Name=description,Values='aws-K8S-\*'/);
    assert.match(destroy, /aws ec2 delete-network-interface/);
  });

  test("the ECR repository goes with its images, and the control-plane log group is the stack's own", () => {
    assert.equal(one(run, 'aws:ecr/repository:Repository').inputs.forceDelete, true);
    const logGroup = one(run, 'aws:cloudwatch/logGroup:LogGroup');
    assert.equal(logGroup.inputs.name, '/aws/eks/two-tier-eks/cluster');
    assert.equal(logGroup.inputs.retentionInDays, 7);
    assert.ok(
      one(run, 'eks:index:Cluster').dependencies.includes(logGroup.urn),
      'EKS could create the log group first',
    );
  });
});

describe('upgrades without downtime', () => {
  test('a code change gives the local image a new tag, so the pod template changes and the pods roll', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'two-tier-source-'));
    try {
      await cp(join(REPO, 'service', 'src'), join(copy, 'service', 'src'), { recursive: true });
      const before = sourceHash({ context: copy, sources: ['service'] });
      assert.equal(sourceHash({ context: copy, sources: ['service'] }), before, 'the hash is not stable');
      await writeFile(join(copy, 'service', 'src', 'page.ts'), '// changed\n', { flag: 'a' });
      assert.notEqual(sourceHash({ context: copy, sources: ['service'] }), before);
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  test('generated passwords have the same inputs on every run, so `up` never replaces them', async () => {
    const [first, second] = await Promise.all([runProgram('eks'), runProgram('eks')]);
    const passwords = (r: ProgramRun) =>
      r.resources.filter((x) => x.type === 'random:index/randomPassword:RandomPassword').map((x) => [x.name, x.inputs]);
    assert.equal(passwords(first).length, 2);
    assert.deepEqual(passwords(second), passwords(first));
  });
});
