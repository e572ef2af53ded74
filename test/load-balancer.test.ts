/**
 * The eks stack's ALB under mocks: the AWS Load Balancer Controller, its IAM policy and Pod Identity, the web
 * tier's Ingress, HTTPS at a domain, and the order destroy takes them in.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ALB_PRE_STOP_SECONDS } from '../infra/web/ingress';
import { GRACE_PERIOD_SECONDS } from '../infra/web-tier';
import { ofType, one, type ProgramRun, runProgram } from './support/program';
import { ALB_HOSTNAME, ALB_ZONE_ID, HOSTED_ZONE } from './support/program-mocks';
import { REPO } from './support/server-process';

const RELEASE = 'kubernetes:helm.sh/v3:Release';
const INGRESS = 'kubernetes:networking.k8s.io/v1:Ingress';
const RECORD = 'aws:route53/record:Record';
const CONTROLLER = 'cluster-load-balancer-controller';
const DOMAIN = 'board.example.com';

/**
 * The Ingress annotations the controller documents (docs/guide/ingress/annotations.md at tag v3.5.0), those
 * this program may set; a key outside the list is one the controller would ignore.
 */
const DOCUMENTED_ANNOTATIONS = [
  'scheme',
  'target-type',
  'healthcheck-path',
  'healthcheck-port',
  'success-codes',
  'healthcheck-interval-seconds',
  'healthcheck-timeout-seconds',
  'healthy-threshold-count',
  'unhealthy-threshold-count',
  'listen-ports',
  'ssl-redirect',
  'certificate-arn',
  'ssl-policy',
  'target-group-attributes',
  'load-balancer-attributes',
  'tags',
  'load-balancer-name',
  'inbound-cidrs',
].map((key) => `alb.ingress.kubernetes.io/${key}`);
/** The controller passes these on unchecked; ELB's own attribute names (ALB and target group attribute docs). */
const ELB_ATTRIBUTES = {
  'load-balancer-attributes': [
    'routing.http.drop_invalid_header_fields.enabled',
    'routing.http.xff_header_processing.mode',
    'idle_timeout.timeout_seconds',
  ],
  'target-group-attributes': ['deregistration_delay.timeout_seconds'],
};

let plain: ProgramRun;
let https: ProgramRun;
let dev: ProgramRun;
before(async () => {
  [plain, https, dev] = await Promise.all([
    runProgram('eks'),
    runProgram('eks', { domain: DOMAIN }),
    runProgram('dev'),
  ]);
  assert.deepEqual(plain.errors, []);
  assert.deepEqual(https.errors, []);
});

const dependsOn = (run: ProgramRun, dependent: string, type: string, name: string) =>
  one(run, ...(dependent.split('::') as [string, string])).dependencies.includes(one(run, type, name).urn);

describe('the AWS Load Balancer Controller', () => {
  test('its IAM policy is the one the controller documents for v3.5.0: every action of the list stored beside it', () => {
    const policy = JSON.parse(one(plain, 'aws:iam/policy:Policy', CONTROLLER).inputs.policy);
    const documented = JSON.parse(
      readFileSync(join(REPO, 'infra/eks/load-balancer-controller-iam-actions.json'), 'utf8'),
    ) as string[];
    const actions = [...new Set(policy.Statement.flatMap((s: { Action: string[] }) => s.Action))].sort();
    assert.deepEqual(actions, [...documented].sort());
    assert.equal(documented.length, 80);
    assert.equal(policy.Statement.length, 16);
    // The tag conditions that keep it to what the controller created are there too.
    assert.ok(
      policy.Statement.some(
        (s: { Action: string[]; Condition?: { Null?: Record<string, string> } }) =>
          s.Action.includes('elasticloadbalancing:DeleteLoadBalancer') &&
          s.Condition?.Null?.['aws:ResourceTag/elbv2.k8s.aws/cluster'] === 'false',
      ),
    );
  });

  test('its role is taken through EKS Pod Identity by its service account only: no IRSA, no keys', () => {
    const role = one(plain, 'aws:iam/role:Role', CONTROLLER);
    assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal, {
      Service: 'pods.eks.amazonaws.com',
    });
    const attachment = one(plain, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment', CONTROLLER);
    assert.equal(attachment.inputs.policyArn, `arn:aws:iam::123456789012:policy/${CONTROLLER}`);
    const association = one(plain, 'aws:eks/podIdentityAssociation:PodIdentityAssociation', CONTROLLER);
    assert.deepEqual(association.inputs, {
      clusterName: 'two-tier-eks',
      namespace: 'kube-system',
      serviceAccount: 'aws-load-balancer-controller',
      roleArn: `arn:aws:iam::123456789012:role/${role.name}`,
    });
    assert.ok(association.dependencies.includes(attachment.urn));
    const agent = one(plain, 'aws:eks/addon:Addon', 'cluster-pod-identity-agent');
    assert.equal(agent.inputs.addonName, 'eks-pod-identity-agent');
    for (const group of ofType(plain, 'eks:index:ManagedNodeGroup'))
      assert.ok(agent.dependencies.includes(group.urn), `the agent may start before ${group.name}`);
    assert.equal(ofType(plain, 'aws:iam/accessKey:AccessKey').length, 0);
  });

  test('the chart is pinned, and its values are what the nodes and the drift check need', () => {
    const release = one(plain, RELEASE, CONTROLLER);
    assert.deepEqual(
      [release.inputs.chart, release.inputs.version, release.inputs.repositoryOpts.repo, release.inputs.namespace],
      ['aws-load-balancer-controller', '3.5.0', 'https://aws.github.io/eks-charts', 'kube-system'],
    );
    assert.match(release.provider, /pulumi:providers:kubernetes::cluster-k8s::/);
    assert.equal(release.inputs.atomic, true);
    const values = release.inputs.values;
    assert.deepEqual(
      {
        clusterName: values.clusterName,
        region: values.region,
        vpcId: values.vpcId,
        serviceAccount: values.serviceAccount,
        replicaCount: values.replicaCount,
        resources: values.resources,
      },
      {
        clusterName: 'two-tier-eks',
        region: 'ap-south-1',
        vpcId: 'cluster-vpc-id',
        serviceAccount: { create: true, name: 'aws-load-balancer-controller', annotations: {} },
        replicaCount: 1,
        resources: { requests: { cpu: '100m', memory: '200Mi' }, limits: { cpu: '200m', memory: '500Mi' } },
      },
    );
    assert.equal(values.enableServiceMutatorWebhook, false, 'a Fail webhook on every Service create');
    assert.equal(values.keepTLSSecret, true, 'each upgrade would make a new webhook CA');
    assert.equal(values.defaultSSLPolicy, 'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09');
    assert.deepEqual(values.defaultTags, { 'two-tier/stack': 'eks' });
    assert.deepEqual([values.enableShield, values.enableWaf, values.enableWafv2], [false, false, false]);
    const dataNodes = one(plain, 'eks:index:ManagedNodeGroup', 'cluster-data-nodes');
    assert.deepEqual(
      values.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions,
      [
        {
          key: 'eks.amazonaws.com/nodegroup',
          operator: 'NotIn',
          values: [`${dataNodes.name}-20260101000000000000000001`],
        },
      ],
    );
  });

  test('its pods start after the agent and the association: credentials are injected only when a pod is created', () => {
    assert.ok(dependsOn(plain, `${RELEASE}::${CONTROLLER}`, 'aws:eks/addon:Addon', 'cluster-pod-identity-agent'));
    assert.ok(
      dependsOn(
        plain,
        `${RELEASE}::${CONTROLLER}`,
        'aws:eks/podIdentityAssociation:PodIdentityAssociation',
        CONTROLLER,
      ),
    );
  });

  test("the ALB goes in subnets of its own, tagged for the controller; the nodes' subnets are not", () => {
    for (const subnet of ofType(plain, 'aws:ec2/subnet:Subnet')) {
      const forAlb = subnet.name.startsWith('cluster-load-balancer-');
      assert.equal(subnet.inputs.tags['kubernetes.io/role/elb'], forAlb ? '1' : undefined, subnet.name);
    }
  });
});

describe("the web tier's Ingress", () => {
  const annotations = (run: ProgramRun) => one(run, INGRESS, 'web-ingress').inputs.metadata.annotations;

  test("of the controller's class, every path to the ClusterIP Service's pods by their IPs, health-checked on /ready", () => {
    const ingress = one(plain, INGRESS, 'web-ingress');
    assert.equal(ingress.inputs.spec.ingressClassName, 'alb');
    const service = one(plain, 'kubernetes:core/v1:Service', 'web-service');
    assert.deepEqual(ingress.inputs.spec.rules, [
      {
        http: {
          paths: [
            {
              path: '/',
              pathType: 'Prefix',
              backend: { service: { name: service.inputs.metadata.name, port: { name: 'http' } } },
            },
          ],
        },
      },
    ]);
    const a = annotations(plain);
    assert.equal(a['alb.ingress.kubernetes.io/scheme'], 'internet-facing', 'the default is internal');
    assert.equal(a['alb.ingress.kubernetes.io/target-type'], 'ip');
    assert.equal(a['alb.ingress.kubernetes.io/healthcheck-path'], '/ready');
    assert.equal(a['alb.ingress.kubernetes.io/listen-ports'], '[{"HTTP": 80}]');
    assert.equal(a['alb.ingress.kubernetes.io/certificate-arn'], undefined);
  });

  test('every annotation is one the controller documents, and every ELB attribute one ELB has', () => {
    for (const run of [plain, https]) {
      const a = annotations(run);
      for (const key of Object.keys(a)) assert.ok(DOCUMENTED_ANNOTATIONS.includes(key), `${key} is not documented`);
      for (const [annotation, known] of Object.entries(ELB_ATTRIBUTES)) {
        for (const pair of String(a[`alb.ingress.kubernetes.io/${annotation}`]).split(',')) {
          assert.ok(known.includes(pair.split('=')[0] as string), `${annotation}: ${pair} is no ELB attribute`);
        }
      }
      for (const value of Object.values(a)) assert.equal(typeof value, 'string', 'the controller reads strings');
    }
  });

  test('a deregistered pod drains within its grace period; new pods wait for the ALB to find them healthy', () => {
    const [, seconds] = /deregistration_delay\.timeout_seconds=(\d+)/.exec(
      annotations(plain)['alb.ingress.kubernetes.io/target-group-attributes'],
    ) as RegExpExecArray;
    assert.ok(
      Number(seconds) < GRACE_PERIOD_SECONDS,
      `${seconds} s outlasts the ${GRACE_PERIOD_SECONDS} s grace period`,
    );
    assert.ok(
      Number(seconds) >= ALB_PRE_STOP_SECONDS + 10,
      "shorter than the pods' pause and drain: the ALB would cut what they accepted",
    );
    const namespace = one(plain, 'kubernetes:core/v1:Namespace');
    assert.equal(namespace.inputs.metadata.labels['elbv2.k8s.aws/pod-readiness-gate-inject'], 'enabled');
    // The pod serves on while the ALB still sends to it, then drains (10 s at most), within its grace period.
    const pod = one(plain, 'kubernetes:apps/v1:Deployment').inputs.spec.template.spec;
    const preStop = pod.containers[0].lifecycle.preStop.sleep.seconds;
    assert.equal(preStop, ALB_PRE_STOP_SECONDS);
    assert.ok(preStop >= 15, 'the ALB may still send new requests for seconds after deregistration');
    assert.ok(preStop + 10 < pod.terminationGracePeriodSeconds, 'the drain would be cut by the SIGKILL');
    const local = one(dev, 'kubernetes:apps/v1:Deployment').inputs.spec.template.spec.containers[0];
    assert.equal(local.lifecycle.preStop.sleep.seconds, 5, 'a local Service forgets an endpoint at once');
  });

  test('with a domain: HTTPS on 443 with the issued certificate and a current TLS policy; port 80 only redirects', () => {
    const a = annotations(https);
    assert.deepEqual(JSON.parse(a['alb.ingress.kubernetes.io/listen-ports']), [{ HTTP: 80 }, { HTTPS: 443 }]);
    assert.equal(a['alb.ingress.kubernetes.io/ssl-redirect'], '443');
    assert.equal(a['alb.ingress.kubernetes.io/ssl-policy'], 'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09');
    const validation = one(https, 'aws:acm/certificateValidation:CertificateValidation', 'web-certificate');
    assert.equal(a['alb.ingress.kubernetes.io/certificate-arn'], validation.inputs.certificateArn);
    assert.ok(
      one(https, INGRESS, 'web-ingress').dependencies.includes(validation.urn),
      'the listener could get an unissued certificate',
    );
  });
});

describe('HTTPS at a name of your own', () => {
  test('an ACM certificate validated by DNS in the zone found by name, waited for, and an alias to the ALB', () => {
    const certificate = one(https, 'aws:acm/certificate:Certificate', 'web-certificate');
    assert.deepEqual([certificate.inputs.domainName, certificate.inputs.validationMethod], [DOMAIN, 'DNS']);
    const validationRecord = one(https, RECORD, 'web-certificate-validation');
    assert.deepEqual(
      [validationRecord.inputs.zoneId, validationRecord.inputs.type, validationRecord.inputs.name],
      [HOSTED_ZONE.id, 'CNAME', `_0123456789abcdef.${DOMAIN}.`],
    );
    const validation = one(https, 'aws:acm/certificateValidation:CertificateValidation', 'web-certificate');
    assert.deepEqual(validation.inputs.validationRecordFqdns, [`_0123456789abcdef.${DOMAIN}`]);
    const alias = one(https, RECORD, 'web-domain');
    assert.deepEqual(
      [alias.inputs.zoneId, alias.inputs.name, alias.inputs.type, alias.inputs.aliases],
      [HOSTED_ZONE.id, DOMAIN, 'A', [{ name: ALB_HOSTNAME, zoneId: ALB_ZONE_ID, evaluateTargetHealth: true }]],
    );
    assert.equal(https.outputs.url?.value, `https://${DOMAIN}`);
  });

  test('hostedZoneId is used as it is, with no lookup; without a domain nothing of ACM or Route 53 is made', async () => {
    const byId = await runProgram('eks', { domain: 'example.org', hostedZoneId: 'Z0OTHERZONE999' });
    assert.deepEqual(byId.errors, []);
    assert.equal(one(byId, RECORD, 'web-domain').inputs.zoneId, 'Z0OTHERZONE999');
    assert.equal(byId.outputs.url?.value, 'https://example.org');
    assert.equal(plain.resources.filter((r) => /^aws:(acm|route53)\//.test(r.type)).length, 0);
  });

  test('a bad domain, a zone id without a domain, or a domain on the dev stack fails the preview naming the key', async () => {
    const runs = await Promise.all([
      runProgram('eks', { domain: 'Board.Example.com' }),
      runProgram('eks', { domain: 'example.com' }),
      runProgram('eks', { domain: DOMAIN, hostedZoneId: 'example.com' }),
      runProgram('eks', { hostedZoneId: 'Z0EXAMPLE12345' }),
      runProgram('dev', { domain: DOMAIN }),
    ]);
    const messages = runs.map((run) => run.errors.join(' | '));
    assert.match(messages[0] as string, /^config two-tier:domain must be a lowercase DNS name/);
    assert.match(
      messages[1] as string,
      /^config two-tier:domain example\.com has no parent zone to look up: set two-tier:hostedZoneId/,
    );
    assert.match(messages[2] as string, /^config two-tier:hostedZoneId must be a Route 53 hosted zone id/);
    assert.match(messages[3] as string, /^config two-tier:hostedZoneId is set but two-tier:domain is not$/);
    assert.match(messages[4] as string, /^config two-tier:domain applies to target eks only$/);
  });
});

describe('destroy in order: the ALB is gone before the controller, the records and certificate after the listener', () => {
  test('the Ingress depends on the controller, the agent, the add-ons and the cluster provider', () => {
    const ingress = one(plain, INGRESS, 'web-ingress');
    assert.ok(ingress.dependencies.includes(one(plain, RELEASE, CONTROLLER).urn), 'the controller could go first');
    for (const name of ['cluster-pod-identity-agent', 'cluster-ebs-csi', 'cluster-metrics-server'])
      assert.ok(ingress.dependencies.includes(one(plain, 'aws:eks/addon:Addon', name).urn), name);
    assert.match(ingress.provider, /pulumi:providers:kubernetes::cluster-k8s::/);
  });

  test('the alias record reads the Ingress, and the Ingress the issued certificate: deleted record, Ingress, certificate', () => {
    const ingress = one(https, INGRESS, 'web-ingress');
    assert.ok(one(https, RECORD, 'web-domain').dependencies.includes(ingress.urn));
    const validation = one(https, 'aws:acm/certificateValidation:CertificateValidation', 'web-certificate');
    assert.ok(ingress.dependencies.includes(validation.urn));
    assert.ok(validation.dependencies.includes(one(https, 'aws:acm/certificate:Certificate', 'web-certificate').urn));
    assert.ok(validation.dependencies.includes(one(https, RECORD, 'web-certificate-validation').urn));
  });

  test('migration: nothing of the Classic ELB is left; no Service of the stack is a LoadBalancer', () => {
    for (const service of ofType(plain, 'kubernetes:core/v1:Service')) {
      assert.notEqual(service.inputs.spec.type, 'LoadBalancer', service.name);
      assert.equal(
        Object.keys(service.inputs.metadata.annotations ?? {}).filter((k) =>
          k.startsWith('service.beta.kubernetes.io/aws-load-balancer'),
        ).length,
        0,
      );
    }
  });
});
