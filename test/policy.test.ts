import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { UnknownValueError, unknownCheckingProxy } from '@pulumi/policy';
import { unknownValue } from '@pulumi/pulumi/runtime/rpc';
import { type PolicyResource, RESOURCE_RULES, STACK_RULES } from '../policy/rules';
import { type ProgramRun, runProgram } from './support/program';

const RUNS = [
  ['dev', 'mysql'],
  ['dev', 'mongodb'],
  ['eks', 'mysql'],
  ['eks', 'mongodb'],
] as const;

function asPolicyResources(run: ProgramRun): PolicyResource[] {
  return run.resources.map((r) => ({
    type: r.type,
    name: r.name,
    props: r.inputs,
    urn: r.urn,
    dependencies: r.dependencies,
  }));
}

/** What @pulumi/policy does with a rule that reads an unknown: an advisory "can't run", which never stops a preview. */
function verdict(rule: { name: string }, check: () => string[]): string[] {
  try {
    return check().map((v) => `${rule.name}: ${v}`);
  } catch (error) {
    if (error instanceof UnknownValueError)
      return [`${rule.name}: can't run during preview: ${(error as Error).message}`];
    throw error;
  }
}

/** Every violation of every rule, as "rule: message", with the props behind the pack's proxy that throws on unknowns. */
function violations(plain: PolicyResource[]): string[] {
  const resources = plain.map((r) => ({ ...r, props: unknownCheckingProxy(r.props) }));
  return [
    ...RESOURCE_RULES.flatMap((rule) => resources.flatMap((r) => verdict(rule, () => rule.check(r)))),
    ...STACK_RULES.flatMap((rule) => verdict(rule, () => rule.check(resources))),
  ];
}

const runs = new Map<string, PolicyResource[]>();

/** The eks stack with a domain: HTTPS at it, and an alias record in its zone. */
const HTTPS_RUN = 'eks-https/mysql';

before(async () => {
  await Promise.all([
    ...RUNS.map(async ([stack, engine]) => {
      const run = await runProgram(stack, { dbEngine: engine });
      assert.deepEqual(run.errors, []);
      runs.set(`${stack}/${engine}`, asPolicyResources(run));
    }),
    runProgram('eks', { domain: 'board.example.com' }).then((run) => {
      assert.deepEqual(run.errors, []);
      runs.set(HTTPS_RUN, asPolicyResources(run));
    }),
  ]);
});

describe('the policy pack on what the program deploys', () => {
  for (const [stack, engine] of RUNS) {
    test(`stack ${stack} with ${engine}: no violation, mandatory or advisory`, () => {
      const resources = runs.get(`${stack}/${engine}`) as PolicyResource[];
      assert.ok(resources.length > 10);
      assert.deepEqual(violations(resources), []);
    });
  }

  test('stack eks with a domain: no violation, mandatory or advisory', () => {
    assert.deepEqual(violations(runs.get(HTTPS_RUN) as PolicyResource[]), []);
  });
});

type Mutation = (resources: PolicyResource[]) => void;

function find(resources: PolicyResource[], name: string): PolicyResource {
  const found = resources.find((r) => r.name === name);
  assert.ok(found, `no resource ${name}`);
  return found;
}
const webContainer = (resources: PolicyResource[]) =>
  find(resources, 'web-deployment').props.spec.template.spec.containers[0];
const webPod = (resources: PolicyResource[]) => find(resources, 'web-deployment').props.spec.template.spec;

/** Deliberately bad resources: each changes one thing in a passing stack and names the one violation expected. */
const ingressAnnotations = (resources: PolicyResource[]) => find(resources, 'web-ingress').props.metadata.annotations;

const FIXTURES: Array<{ what: string; stack: 'dev' | 'eks' | 'eks-https'; mutate: Mutation; expected: string[] }> = [
  {
    what: 'with a domain, port 80 serving the web tier instead of redirecting to HTTPS',
    stack: 'eks-https',
    mutate: (r) => {
      delete ingressAnnotations(r)['alb.ingress.kubernetes.io/ssl-redirect'];
    },
    expected: [
      'https-only-with-domain: web-ingress: an HTTP listener serves content although a domain is configured (set alb.ingress.kubernetes.io/ssl-redirect to an HTTPS port of alb.ingress.kubernetes.io/listen-ports)',
    ],
  },
  {
    what: 'with a domain, an ALB on plain HTTP only',
    stack: 'eks-https',
    mutate: (r) => {
      ingressAnnotations(r)['alb.ingress.kubernetes.io/listen-ports'] = '[{"HTTP": 80}]';
    },
    expected: [
      'https-only-with-domain: web-ingress: an HTTP listener serves content although a domain is configured (set alb.ingress.kubernetes.io/ssl-redirect to an HTTPS port of alb.ingress.kubernetes.io/listen-ports)',
    ],
  },
  {
    what: 'a root container',
    stack: 'dev',
    mutate: (r) => {
      webContainer(r).securityContext = { ...webContainer(r).securityContext, runAsUser: 0 };
    },
    expected: ['pod-security-restricted: web-deployment: container web has no non-zero runAsUser'],
  },
  {
    what: 'privilege escalation and an added capability',
    stack: 'dev',
    mutate: (r) => {
      webContainer(r).securityContext = {
        ...webContainer(r).securityContext,
        allowPrivilegeEscalation: true,
        capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] },
      };
    },
    expected: [
      'pod-security-restricted: web-deployment: container web allows privilege escalation',
      'pod-security-restricted: web-deployment: container web adds capabilities SYS_ADMIN',
    ],
  },
  {
    what: 'a hostPath volume and the host network',
    stack: 'dev',
    mutate: (r) => {
      webPod(r).hostNetwork = true;
      webPod(r).volumes = [{ name: 'host', hostPath: { path: '/var/lib' } }];
    },
    expected: [
      'pod-security-restricted: web-deployment: hostNetwork is on',
      'pod-security-restricted: web-deployment: volume host is a hostPath',
    ],
  },
  {
    what: 'no seccomp profile',
    stack: 'dev',
    mutate: (r) => {
      delete webPod(r).securityContext.seccompProfile;
    },
    expected: [
      'pod-security-restricted: web-deployment: container copy-data has no RuntimeDefault seccomp profile',
      'pod-security-restricted: web-deployment: container web has no RuntimeDefault seccomp profile',
    ],
  },
  {
    what: 'a writable root filesystem on the web tier',
    stack: 'dev',
    mutate: (r) => {
      webContainer(r).securityContext = { ...webContainer(r).securityContext, readOnlyRootFilesystem: false };
    },
    expected: [
      'web-read-only-root-filesystem: web-deployment: container web has a writable root filesystem',
      'read-only-root-filesystem: web-deployment: container web has a writable root filesystem',
    ],
  },
  {
    what: 'a :latest image',
    stack: 'dev',
    mutate: (r) => {
      webContainer(r).image = 'two-tier-web:latest';
    },
    expected: ['pinned-images: web-deployment: container web runs "two-tier-web:latest", which is :latest'],
  },
  {
    what: 'an untagged image',
    stack: 'dev',
    mutate: (r) => {
      webContainer(r).image = 'two-tier-web';
    },
    expected: ['pinned-images: web-deployment: container web runs the untagged image "two-tier-web"'],
  },
  {
    what: 'an image the program pushed, referenced by tag',
    stack: 'eks',
    mutate: (r) => {
      webContainer(r).image = '123456789012.dkr.ecr.ap-south-1.amazonaws.com/two-tier-eks/web:abc123';
    },
    expected: [
      'pinned-images: web-deployment: container web runs "123456789012.dkr.ecr.ap-south-1.amazonaws.com/two-tier-eks/web:abc123" from ECR by tag, not by digest',
    ],
  },
  {
    what: 'a literal password env var',
    stack: 'dev',
    mutate: (r) => {
      const env = webContainer(r).env;
      const index = env.findIndex((v: { name: string }) => v.name === 'MYSQL_PASSWORD');
      env[index] = { name: 'MYSQL_PASSWORD', value: 'admin' };
    },
    expected: [
      'no-literal-secrets: web-deployment: container web sets MYSQL_PASSWORD to a literal value; use valueFrom.secretKeyRef',
    ],
  },
  {
    what: 'a connection string with credentials as a literal',
    stack: 'dev',
    mutate: (r) => {
      webContainer(r).env.push({ name: 'DATABASE_URL', value: 'mongodb://root:hunter2@db:27017' });
    },
    expected: [
      'no-literal-secrets: web-deployment: container web sets DATABASE_URL to a literal value; use valueFrom.secretKeyRef',
    ],
  },
  {
    what: 'a pod without limits',
    stack: 'dev',
    mutate: (r) => {
      delete webContainer(r).resources.limits;
    },
    expected: ['resources-and-probes: web-deployment: container web has no memory limit'],
  },
  {
    what: 'a container without probes',
    stack: 'dev',
    mutate: (r) => {
      delete webContainer(r).livenessProbe;
      delete webContainer(r).readinessProbe;
    },
    expected: [
      'resources-and-probes: web-deployment: container web has no liveness probe',
      'resources-and-probes: web-deployment: container web has no readiness probe',
    ],
  },
  {
    what: 'an init container without limits (it needs no probes: it runs to completion)',
    stack: 'dev',
    mutate: (r) => {
      delete webPod(r).initContainers[0].resources.limits;
    },
    expected: ['resources-and-probes: web-deployment: container copy-data has no memory limit'],
  },
  {
    what: 'a LoadBalancer database Service',
    stack: 'eks',
    mutate: (r) => {
      find(r, 'db-mysql-service').props.spec.type = 'LoadBalancer';
    },
    expected: ['database-not-exposed: db-mysql-service: the database Service is exposed as LoadBalancer'],
  },
  {
    what: 'a mounted service account token',
    stack: 'dev',
    mutate: (r) => {
      delete webPod(r).automountServiceAccountToken;
    },
    expected: [
      'no-service-account-token: web-deployment: mounts a service account token (set automountServiceAccountToken: false)',
    ],
  },
  {
    what: 'an autoscaler that allows one replica',
    stack: 'dev',
    mutate: (r) => {
      find(r, 'web-hpa').props.spec.minReplicas = 1;
    },
    expected: ['hpa-min-replicas: web-hpa: minReplicas is 1; one pod is a single point of failure'],
  },
  {
    what: 'no disruption budget for the web tier',
    stack: 'dev',
    mutate: (r) => {
      r.splice(r.indexOf(find(r, 'web-pdb')), 1);
    },
    expected: ['web-disruption-budget: web-deployment: no PodDisruptionBudget covers it'],
  },
  {
    what: 'no network policy for the database',
    stack: 'dev',
    mutate: (r) => {
      for (const name of ['db-mysql-allow-web', 'data-copy-allow-web-mongodb']) r.splice(r.indexOf(find(r, name)), 1);
    },
    expected: ['network-isolation: no NetworkPolicy selects the database pods'],
  },
  {
    what: 'a database policy that lets anyone in, and a web policy open on every port',
    stack: 'dev',
    mutate: (r) => {
      find(r, 'db-mysql-allow-web').props.spec.ingress = [{ ports: [{ port: 3306 }] }];
      find(r, 'web-allow-http').props.spec.ingress = [{}];
    },
    expected: [
      "network-isolation: db-mysql-allow-web: lets in more than the web tier's pods",
      'network-isolation: web-allow-http: lets in traffic on every port',
    ],
  },
  {
    what: 'an ECR repository that does not scan',
    stack: 'eks',
    mutate: (r) => {
      find(r, 'web-repo').props.imageScanningConfiguration = { scanOnPush: false };
    },
    expected: ['ecr-scan-on-push: web-repo: scanOnPush is off'],
  },
  {
    what: 'unencrypted EBS volumes',
    stack: 'eks',
    mutate: (r) => {
      find(r, 'cluster-gp3').props.parameters.encrypted = 'false';
      find(r, 'cluster-nodes').props.blockDeviceMappings[0].ebs.encrypted = 'false';
      find(r, 'db-mysql-data-ebs').props.encrypted = false;
    },
    expected: [
      'encrypted-ebs-volumes: cluster-gp3: EBS volumes are not encrypted',
      'encrypted-ebs-volumes: db-mysql-data-ebs: the EBS volume is not encrypted',
      'encrypted-ebs-volumes: cluster-nodes: node root volumes are not encrypted',
    ],
  },
  {
    what: 'control plane logs off (advisory)',
    stack: 'eks',
    mutate: (r) => {
      find(r, 'cluster-eks').props.enabledClusterLogTypes = [];
    },
    expected: ['eks-control-plane-logs: cluster-eks: control plane logs are off'],
  },
];

/** How the engine sends a string it will only know at `up`. */
const UNKNOWN = unknownValue;
const ECR_WEB = '123456789012.dkr.ecr.ap-south-1.amazonaws.com/two-tier-eks/web';

/** The first preview of eks: nothing exists yet, so the repository's URL and the build's name are unknown too. */
const firstPreview: Mutation = (r) => {
  webContainer(r).image = UNKNOWN;
  find(r, 'web-image').props.imageName = UNKNOWN;
  find(r, 'web-image').props.registry.server = UNKNOWN;
  find(r, 'web-repo').props.repositoryUrl = UNKNOWN;
};

/** eks previews, where the web image is the build's digest and unknown until `up`. */
const PREVIEW_FIXTURES: typeof FIXTURES = [
  {
    what: 'the first preview: the image is the digest of the build into the ECR repository being created',
    stack: 'eks',
    mutate: firstPreview,
    expected: [],
  },
  {
    what: 'a later preview: the repository exists, the build pushes to it under its source hash',
    stack: 'eks',
    mutate: (r) => {
      webContainer(r).image = UNKNOWN;
      find(r, 'web-repo').props.repositoryUrl = ECR_WEB;
    },
    expected: [],
  },
  {
    what: 'a build that pushes to another registry',
    stack: 'eks',
    mutate: (r) => {
      webContainer(r).image = UNKNOWN;
      find(r, 'web-image').props.imageName = 'registry.example.com/team/web:4150ed41b02e';
    },
    expected: [
      `pinned-images-at-preview: web-deployment: container web runs the image of web-image, which is pushed to "registry.example.com/team/web", not to this stack's ECR repository`,
    ],
  },
  {
    what: 'a build into the ECR repository of another account',
    stack: 'eks',
    mutate: (r) => {
      webContainer(r).image = UNKNOWN;
      find(r, 'web-repo').props.repositoryUrl = ECR_WEB;
      find(r, 'web-image').props.imageName =
        '210987654321.dkr.ecr.ap-south-1.amazonaws.com/two-tier-eks/web:4150ed41b02e';
    },
    expected: [
      `pinned-images-at-preview: web-deployment: container web runs the image of web-image, which is pushed to "210987654321.dkr.ecr.ap-south-1.amazonaws.com/two-tier-eks/web", not to this stack's ECR repository`,
    ],
  },
  {
    what: 'a build pushed as :latest',
    stack: 'eks',
    mutate: (r) => {
      webContainer(r).image = UNKNOWN;
      find(r, 'web-image').props.imageName = `${ECR_WEB}:latest`;
    },
    expected: [
      `pinned-images-at-preview: web-deployment: container web runs the image of web-image, which is pushed as "${ECR_WEB}:latest", which is :latest`,
    ],
  },
  {
    what: 'a build pushed untagged',
    stack: 'eks',
    mutate: (r) => {
      webContainer(r).image = UNKNOWN;
      find(r, 'web-image').props.imageName = ECR_WEB;
    },
    expected: [
      `pinned-images-at-preview: web-deployment: container web runs the image of web-image, which is pushed untagged as "${ECR_WEB}"`,
    ],
  },
  {
    what: 'a build that is not pushed',
    stack: 'eks',
    mutate: (r) => {
      webContainer(r).image = UNKNOWN;
      find(r, 'web-image').props.skipPush = true;
    },
    expected: [
      'pinned-images-at-preview: web-deployment: container web runs the image of web-image, which is not pushed (skipPush)',
    ],
  },
  {
    what: "a build whose unknown name does not come from the stack's ECR repository",
    stack: 'eks',
    mutate: (r) => {
      firstPreview(r);
      find(r, 'web-image').dependencies = [];
    },
    expected: [
      'pinned-images-at-preview: web-deployment: container web runs the image of web-image, which is pushed to a name unknown at preview that no ECR repository of this stack gives',
    ],
  },
  {
    what: 'an unknown image that no build produces',
    stack: 'eks',
    mutate: (r) => {
      firstPreview(r);
      const deployment = find(r, 'web-deployment');
      deployment.dependencies = deployment.dependencies?.filter((urn) => urn !== find(r, 'web-image').urn);
    },
    expected: [
      'pinned-images-at-preview: web-deployment: container web runs an image known only at `up` that no build in this stack produces',
    ],
  },
  {
    what: "the build's name instead of its digest, known on a later preview",
    stack: 'eks',
    mutate: (r) => {
      find(r, 'web-image').props.imageName = `${ECR_WEB}:4150ed41b02e`;
      webContainer(r).image = find(r, 'web-image').props.imageName;
    },
    expected: [
      `pinned-images: web-deployment: container web runs "${ECR_WEB}:4150ed41b02e" from ECR by tag, not by digest`,
    ],
  },
];

function mutated(fixture: (typeof FIXTURES)[number]): string[] {
  const resources = structuredClone(runs.get(`${fixture.stack}/mysql`) as PolicyResource[]);
  fixture.mutate(resources);
  return violations(resources).sort();
}

describe('the policy pack at preview, where the web image is known only at `up`', () => {
  for (const fixture of PREVIEW_FIXTURES) {
    test(`${fixture.what}: ${fixture.expected.length ? 'exactly the named violation' : 'decided, no violation'}`, () => {
      assert.deepEqual(mutated(fixture), [...fixture.expected].sort());
    });
  }
});

describe('the policy pack on deliberately bad resources', () => {
  for (const fixture of FIXTURES) {
    test(`${fixture.what}: exactly the named violation`, () => {
      assert.deepEqual(mutated(fixture), [...fixture.expected].sort());
    });
  }

  test('every rule has a fixture that makes it fail', () => {
    const failing = new Set([...FIXTURES, ...PREVIEW_FIXTURES].flatMap((f) => f.expected.map((v) => v.split(':')[0])));
    for (const rule of [...RESOURCE_RULES, ...STACK_RULES])
      assert.ok(failing.has(rule.name), `${rule.name} is never shown to fail`);
  });
});
