import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ofType, one, type ProgramRun, type RecordedResource, runProgram } from './support/program';
import { DEPLOY_ROLE } from './support/program-mocks';

/** The eks stack's cluster under mocks that answer as AWS does: who runs it, which zones, which clusters exist. */

const PREVIEW_ROLE = 'arn:aws:iam::123456789012:role/two-tier-preview';
const ASHA = 'arn:aws:iam::123456789012:user/asha';
const ADMINS = [DEPLOY_ROLE, PREVIEW_ROLE, ASHA];
const ADMIN_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';
const CREATED_BY = 'two-tier/created-by';

/** The cluster as AWS would list it once the deploy role created it. */
const existing = (createdBy: string) => ({
  MOCK_EKS_CLUSTERS: JSON.stringify({ 'two-tier-eks': { [CREATED_BY]: createdBy } }),
});

const entries = (run: ProgramRun) =>
  ofType(run, 'aws:eks/accessEntry:AccessEntry')
    .map((entry) => entry.inputs.principalArn as string)
    .sort();

describe('eks: access entries', () => {
  test('the first up, by the deploy role: EKS made its entry, so the program makes none for it; the cluster records its creator', async () => {
    const run = await runProgram('eks', { clusterAdmins: ADMINS });
    assert.deepEqual(run.errors, []);
    assert.deepEqual(entries(run), [PREVIEW_ROLE, ASHA].sort(), 'an entry for the creator is a 409 at `up`');
    assert.equal(one(run, 'eks:index:Cluster').inputs.clusterTags?.[CREATED_BY], DEPLOY_ROLE);
    for (const entry of ofType(run, 'aws:eks/accessEntry:AccessEntry')) {
      const policy = ofType(run, 'aws:eks/accessPolicyAssociation:AccessPolicyAssociation').find(
        (association) => association.inputs.principalArn === entry.inputs.principalArn,
      );
      assert.equal(policy?.inputs.policyArn, ADMIN_POLICY);
      assert.deepEqual(policy?.inputs.accessScope, { type: 'cluster' });
      assert.equal(entry.inputs.clusterName, 'two-tier-eks');
    }
  });

  test('a later up from a laptop: still no entry for the creator, and the person running it keeps theirs', async () => {
    const run = await runProgram('eks', { clusterAdmins: ADMINS }, [], {
      MOCK_AWS_CALLER: ASHA,
      ...existing(DEPLOY_ROLE),
    });
    assert.deepEqual(run.errors, []);
    assert.deepEqual(entries(run), [PREVIEW_ROLE, ASHA].sort());
    assert.equal(one(run, 'eks:index:Cluster').inputs.clusterTags?.[CREATED_BY], DEPLOY_ROLE, 'the creator changed');
  });

  test('a cluster created by someone who is not listed: every listed administrator gets an entry', async () => {
    const ravi = 'arn:aws:iam::123456789012:user/ravi';
    const run = await runProgram('eks', { clusterAdmins: ADMINS }, [], existing(ravi));
    assert.deepEqual(entries(run), [...ADMINS].sort());
  });

  test('an entry keeps the name and parent it had inside the eks component, so no `up` deletes and recreates it', async () => {
    const run = await runProgram('eks', { clusterAdmins: [PREVIEW_ROLE, ASHA] });
    const cluster = one(run, 'eks:index:Cluster');
    const byName = Object.fromEntries(ofType(run, 'aws:eks/accessEntry:AccessEntry').map((e) => [e.name, e]));
    assert.deepEqual(Object.keys(byName).sort(), ['cluster-eks-admin-0', 'cluster-eks-admin-1']);
    // The URN the eks component gave the entry it made: its own URN's type chain, then the entry's type and name.
    const underCluster = (name: string) =>
      `${cluster.urn.slice(0, cluster.urn.lastIndexOf('::'))}$aws:eks/accessEntry:AccessEntry::${name}`;
    for (const entry of Object.values(byName)) {
      assert.ok(
        entry.aliases.some((alias) => alias.urn === underCluster(entry.name) || alias.parentUrn === cluster.urn),
        `${entry.name} has no alias under the eks component: ${JSON.stringify(entry.aliases)}`,
      );
    }
    for (const association of ofType(run, 'aws:eks/accessPolicyAssociation:AccessPolicyAssociation')) {
      const entryUrn = underCluster(association.name.replace(/-admin$/, ''));
      const before = `${entryUrn.slice(0, entryUrn.lastIndexOf('::'))}$aws:eks/accessPolicyAssociation:AccessPolicyAssociation::${association.name}`;
      assert.ok(
        association.aliases.some((alias) => alias.urn === before),
        `${association.name} would be replaced`,
      );
    }
  });

  test("the cluster's Kubernetes provider waits for the entries, so a newly listed runner can deploy", async () => {
    const run = await runProgram('eks', { clusterAdmins: [PREVIEW_ROLE, ASHA] }, [], {
      MOCK_AWS_CALLER: ASHA,
      ...existing(DEPLOY_ROLE),
    });
    const provider = one(run, 'pulumi:providers:kubernetes', 'cluster-k8s');
    const listed = ofType(run, 'aws:eks/accessEntry:AccessEntry');
    assert.equal(listed.length, 2, 'the program made no access entries of its own');
    for (const entry of listed) {
      assert.ok(provider.dependencies.includes(entry.urn), `the provider does not wait for ${entry.name}`);
    }
  });

  test('destroy keeps admin access to the end: every Kubernetes object is deleted before any entry or association', async () => {
    const run = await runProgram('eks', { clusterAdmins: [PREVIEW_ROLE, ASHA] }, [], {
      MOCK_AWS_CALLER: ASHA,
      ...existing(DEPLOY_ROLE),
    });
    assert.deepEqual(run.errors, []);
    // Pulumi deletes a resource only after everything that depends on it, through its dependencies or its provider.
    const byUrn = new Map(run.resources.map((resource) => [resource.urn, resource]));
    const reaches = (from: RecordedResource): Set<string> => {
      const seen = new Set<string>();
      const next = [from];
      while (next.length) {
        const current = next.pop() as RecordedResource;
        const edges = [
          ...current.dependencies,
          ...(current.provider ? [current.provider.split('::').slice(0, -1).join('::')] : []),
        ];
        for (const urn of edges) {
          if (seen.has(urn)) continue;
          seen.add(urn);
          const found = byUrn.get(urn);
          if (found) next.push(found);
        }
      }
      return seen;
    };
    const grants = [
      ...ofType(run, 'aws:eks/accessEntry:AccessEntry'),
      ...ofType(run, 'aws:eks/accessPolicyAssociation:AccessPolicyAssociation'),
    ];
    assert.equal(grants.length, 4, 'two entries and their two associations');
    const objects = run.resources.filter(
      (r) => r.type.startsWith('kubernetes:') && r.provider.includes('::cluster-k8s::'),
    );
    assert.ok(objects.length >= 10);
    for (const object of objects) {
      const before = reaches(object);
      for (const grant of grants) {
        assert.ok(before.has(grant.urn), `${grant.name} could be deleted before ${object.type} ${object.name}`);
      }
    }
  });

  describe('an SSO role: STS and IAM give it with its path, clusterAdmins may not', () => {
    const SSO_NAME = 'AWSReservedSSO_AdministratorAccess_0123456789abcdef';
    const SSO_WITH_PATH = `arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/ap-south-1/${SSO_NAME}`;
    const SSO_WITHOUT_PATH = `arn:aws:iam::123456789012:role/${SSO_NAME}`;
    const SSO_SESSION = { MOCK_AWS_CALLER: `arn:aws:sts::123456789012:assumed-role/${SSO_NAME}/asha@example.com` };

    test('the first up from a laptop by the SSO role: it is the creator, listed without its path, so no entry is made', async () => {
      const run = await runProgram('eks', { clusterAdmins: [SSO_WITHOUT_PATH, PREVIEW_ROLE] }, [], SSO_SESSION);
      assert.deepEqual(run.errors, []);
      assert.equal(one(run, 'eks:index:Cluster').inputs.clusterTags?.[CREATED_BY], SSO_WITH_PATH);
      assert.deepEqual(entries(run), [PREVIEW_ROLE], 'an entry for the creator is a 409 at `up`');
    });

    test('later ups, whoever runs them: the tag with the path and the list without it (or the other way) are one principal', async () => {
      const [tagWithPath, tagWithoutPath] = await Promise.all([
        runProgram('eks', { clusterAdmins: [PREVIEW_ROLE, SSO_WITHOUT_PATH] }, [], existing(SSO_WITH_PATH)),
        runProgram('eks', { clusterAdmins: [PREVIEW_ROLE, SSO_WITH_PATH] }, [], existing(SSO_WITHOUT_PATH)),
      ]);
      assert.deepEqual(entries(tagWithPath), [PREVIEW_ROLE]);
      assert.deepEqual(entries(tagWithoutPath), [PREVIEW_ROLE]);
    });

    test('one role listed twice, with and without its path or in another case: one entry', async () => {
      const run = await runProgram(
        'eks',
        { clusterAdmins: [SSO_WITH_PATH, SSO_WITHOUT_PATH, SSO_WITHOUT_PATH.toLowerCase(), ASHA] },
        [],
        existing(DEPLOY_ROLE),
      );
      assert.deepEqual(run.errors, []);
      assert.deepEqual(entries(run), [SSO_WITH_PATH, ASHA].sort());
    });
  });

  test('a malformed clusterAdmins ARN fails the preview naming the key', async () => {
    const bad = await runProgram('eks', { clusterAdmins: ['two-tier-deploy'] });
    assert.equal(bad.errors.length, 1);
    assert.match(bad.errors[0] as string, /^config two-tier:clusterAdmins must be a list of IAM role or user ARNs/);
  });
});

const subnetZones = (run: ProgramRun) =>
  ofType(run, 'aws:ec2/subnet:Subnet')
    .filter((subnet) => subnet.name.startsWith('cluster-public-'))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((subnet) => subnet.inputs.availabilityZone as string);

describe('eks: zones', () => {
  test('the subnets take the first two zones that need no opt-in: never the Local Zone the account opted in to', async () => {
    const run = await runProgram('eks');
    assert.deepEqual(run.errors, []);
    assert.deepEqual(subnetZones(run), ['ap-south-1a', 'ap-south-1b']);
  });

  test("a zone's state changing does not move the subnets (and with them the cluster and the database's disk)", async () => {
    const run = await runProgram('eks', {}, [], { MOCK_ZONE_STATES: JSON.stringify({ 'ap-south-1a': 'impaired' }) });
    assert.deepEqual(run.errors, []);
    assert.deepEqual(subnetZones(run), ['ap-south-1a', 'ap-south-1b']);
    assert.equal(one(run, 'aws:ebs/volume:Volume').inputs.availabilityZone, 'ap-south-1a');
  });
});

describe('eks: the database always has a node in its zone', () => {
  const dataSubnet = (run: ProgramRun) =>
    ofType(run, 'aws:ec2/subnet:Subnet').find(
      (subnet) => subnet.inputs.availabilityZone === one(run, 'aws:ebs/volume:Volume').inputs.availabilityZone,
    ) as RecordedResource;

  for (const [nodeCount, instanceType] of [
    [1, 't3.large'],
    [2, 't3.small'],
    [3, 't3.small'],
  ] as const) {
    test(`${nodeCount} x ${instanceType}: one node of its own in the subnet of the volume's zone, the rest across both`, async () => {
      const run = await runProgram('eks', { nodeCount, instanceType });
      assert.deepEqual(run.errors, []);
      const data = one(run, 'eks:index:ManagedNodeGroup', 'cluster-data-nodes');
      assert.deepEqual(data.inputs.subnetIds, [`${dataSubnet(run).name}-id`]);
      assert.deepEqual(data.inputs.scalingConfig, { desiredSize: 1, minSize: 1, maxSize: 1 });
      const others = ofType(run, 'eks:index:ManagedNodeGroup').filter((group) => group !== data);
      const total = others.reduce((sum, group) => sum + group.inputs.scalingConfig.desiredSize, 1);
      assert.equal(total, nodeCount);
      for (const group of others) {
        assert.equal(group.inputs.subnetIds.length, 2);
        assert.deepEqual(group.inputs.launchTemplate, data.inputs.launchTemplate);
      }
    });
  }
});

describe('eks: the state serves a destroy run on another machine (pulumi destroy uses the stored provider inputs)', () => {
  const tokenArgs = (run: ProgramRun) => {
    const kubeconfig = JSON.parse(one(run, 'pulumi:providers:kubernetes', 'cluster-k8s').inputs.kubeconfig);
    return kubeconfig.users[0].user.exec.args as string[];
  };

  test("a laptop's aws:profile reaches no resource's inputs: `aws eks get-token` takes it from AWS_PROFILE", async () => {
    const run = await runProgram('eks', { 'aws:profile': 'two-tier-admin' }, [], { AWS_PROFILE: 'two-tier-admin' });
    assert.deepEqual(run.errors, []);
    assert.ok(!tokenArgs(run).includes('--profile'), `the provider runs aws ${tokenArgs(run).join(' ')}`);
    for (const resource of run.resources) {
      assert.ok(!JSON.stringify(resource.inputs).includes('two-tier-admin'), `${resource.name} keeps the profile`);
    }
    const runner = await runProgram('eks');
    assert.deepEqual(tokenArgs(run), tokenArgs(runner), 'a laptop and the runner store different provider inputs');
    // @pulumi/eks fills its own provider's kubeconfig from AWS_PROFILE or aws:profile unless these options are given.
    assert.deepEqual(one(run, 'eks:index:Cluster').inputs.providerCredentialOpts, {});
  });

  test('aws:profile without AWS_PROFILE naming it fails the preview, before anything is created', async () => {
    for (const environment of ['', 'someone-else']) {
      const run = await runProgram('eks', { 'aws:profile': 'two-tier-admin' }, [], { AWS_PROFILE: environment });
      assert.equal(run.errors.length, 1, `AWS_PROFILE "${environment}" was accepted`);
      assert.match(
        run.errors[0] as string,
        /^config aws:profile is "two-tier-admin" but AWS_PROFILE is (not set|"someone-else"): .* export AWS_PROFILE=two-tier-admin$/,
      );
      assert.equal(run.resources.length, 0);
    }
  });
});

describe('eks: CPU credits', () => {
  test('burstable nodes run on standard credits (T3 Unlimited bills sustained CPU above the baseline); m5 has none to set', async () => {
    const [t3, m5] = await Promise.all([runProgram('eks'), runProgram('eks', { instanceType: 'm5.large' })]);
    assert.deepEqual(one(t3, 'aws:ec2/launchTemplate:LaunchTemplate').inputs.creditSpecification, {
      cpuCredits: 'standard',
    });
    assert.deepEqual(m5.errors, []);
    assert.equal(one(m5, 'aws:ec2/launchTemplate:LaunchTemplate').inputs.creditSpecification, undefined);
  });
});
