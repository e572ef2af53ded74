/**
 * The guardrails as plain functions over resources `{ type, name, props }`, so the policy pack and the
 * tests run the same code. A resource rule returns the violations of one resource; a stack rule those
 * of the whole stack.
 */

import { UnknownValueError } from '@pulumi/policy';

export interface PolicyResource {
  type: string;
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: resource properties are whatever the program set.
  props: Record<string, any>;
  /** Stack rules only: this resource's URN and the URNs of the resources it depends on. */
  urn?: string;
  dependencies?: string[];
}

/** What `known` returns for a value the engine will only know at `up`. */
const UNKNOWN = Symbol('known only at up');

/** Reads a value that may be unknown at preview: @pulumi/policy's props throw UnknownValueError when one is read. */
function known<T>(read: () => T): T | typeof UNKNOWN {
  try {
    return read();
  } catch (error) {
    if (error instanceof UnknownValueError) return UNKNOWN;
    throw error;
  }
}

export type Enforcement = 'mandatory' | 'advisory';

export interface ResourceRule {
  name: string;
  description: string;
  enforcementLevel: Enforcement;
  check(resource: PolicyResource): string[];
}

export interface StackRule {
  name: string;
  description: string;
  enforcementLevel: Enforcement;
  check(resources: PolicyResource[]): string[];
}

const WORKLOADS = ['kubernetes:apps/v1:Deployment', 'kubernetes:apps/v1:StatefulSet', 'kubernetes:core/v1:Pod'];
const SERVICE = 'kubernetes:core/v1:Service';
const COMPONENT = 'app.kubernetes.io/component';

// biome-ignore lint/suspicious/noExplicitAny: pod specs are untyped props.
type Spec = Record<string, any>;

function podSpec(resource: PolicyResource): Spec | undefined {
  if (!WORKLOADS.includes(resource.type)) return undefined;
  return resource.type === 'kubernetes:core/v1:Pod' ? resource.props.spec : resource.props.spec?.template?.spec;
}

function podLabels(resource: PolicyResource): Record<string, string> {
  return (
    (resource.type === 'kubernetes:core/v1:Pod' ? resource.props.metadata : resource.props.spec?.template?.metadata)
      ?.labels ?? {}
  );
}

function allContainers(spec: Spec): Spec[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

/** A rule that looks at every container of every Pod template. */
function perContainer(check: (container: Spec, pod: Spec, resource: PolicyResource) => string[]) {
  return (resource: PolicyResource): string[] => {
    const pod = podSpec(resource);
    if (!pod) return [];
    return allContainers(pod).flatMap((container) =>
      check(container, pod, resource).map((problem) => `${resource.name}: container ${container.name} ${problem}`),
    );
  };
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export const restrictedPodSecurity: ResourceRule = {
  name: 'pod-security-restricted',
  description: 'Pod templates meet the Kubernetes Pod Security Standard "restricted"',
  enforcementLevel: 'mandatory',
  check(resource) {
    const pod = podSpec(resource);
    if (!pod) return [];
    const problems: string[] = [];
    const podContext = pod.securityContext ?? {};
    for (const field of ['hostNetwork', 'hostPID', 'hostIPC'])
      if (pod[field]) problems.push(`${resource.name}: ${field} is on`);
    for (const volume of pod.volumes ?? []) {
      if (volume.hostPath) problems.push(`${resource.name}: volume ${volume.name} is a hostPath`);
    }
    for (const container of allContainers(pod)) {
      const context = container.securityContext ?? {};
      const prefix = `${resource.name}: container ${container.name}`;
      if ((context.runAsNonRoot ?? podContext.runAsNonRoot) !== true)
        problems.push(`${prefix} may run as root (runAsNonRoot is not true)`);
      const uid = context.runAsUser ?? podContext.runAsUser;
      if (uid === 0 || uid === undefined) problems.push(`${prefix} has no non-zero runAsUser`);
      if (context.allowPrivilegeEscalation !== false) problems.push(`${prefix} allows privilege escalation`);
      if (context.privileged) problems.push(`${prefix} is privileged`);
      if (!(context.capabilities?.drop ?? []).includes('ALL'))
        problems.push(`${prefix} does not drop ALL capabilities`);
      const added = (context.capabilities?.add ?? []).filter((capability: string) => capability !== 'NET_BIND_SERVICE');
      if (added.length) problems.push(`${prefix} adds capabilities ${added.join(', ')}`);
      if ((context.seccompProfile ?? podContext.seccompProfile)?.type !== 'RuntimeDefault') {
        problems.push(`${prefix} has no RuntimeDefault seccomp profile`);
      }
    }
    return problems;
  },
};

export const readOnlyRootFilesystem: ResourceRule = {
  name: 'web-read-only-root-filesystem',
  description: "The web tier's containers run with a read-only root filesystem",
  enforcementLevel: 'mandatory',
  check: perContainer((container, _pod, resource) =>
    podLabels(resource)[COMPONENT] === 'web' && container.securityContext?.readOnlyRootFilesystem !== true
      ? ['has a writable root filesystem']
      : [],
  ),
};

export const readOnlyRootFilesystemEverywhere: ResourceRule = {
  name: 'read-only-root-filesystem',
  description: 'Every container runs with a read-only root filesystem where its image allows',
  enforcementLevel: 'advisory',
  check: perContainer((container) =>
    container.securityContext?.readOnlyRootFilesystem === true ? [] : ['has a writable root filesystem'],
  ),
};

export const resourcesAndProbes: ResourceRule = {
  name: 'resources-and-probes',
  description:
    'Every container has CPU and memory requests and a memory limit; every one but an init container liveness and readiness probes',
  enforcementLevel: 'mandatory',
  check: perContainer((container, pod) => {
    const problems: string[] = [];
    const resources = container.resources ?? {};
    if (!resources.requests?.cpu) problems.push('has no CPU request');
    if (!resources.requests?.memory) problems.push('has no memory request');
    if (!resources.limits?.memory) problems.push('has no memory limit');
    // An init container runs to completion before the others start: Kubernetes refuses probes on it.
    if ((pod.initContainers ?? []).some((init: Spec) => init.name === container.name)) return problems;
    if (!container.livenessProbe) problems.push('has no liveness probe');
    if (!container.readinessProbe) problems.push('has no readiness probe');
    return problems;
  }),
};

const ECR = /\.dkr\.ecr\.[^/]+\.amazonaws\.com\//;
const TAG = /:([^:/]+)$/;

/** Why a reference is not pinned: it has no tag, or the floating tag latest. */
function floatingTag(image: string): 'untagged' | 'latest' | undefined {
  if (image.includes('@sha256:')) return undefined;
  const tag = TAG.exec(image)?.[1];
  return !tag ? 'untagged' : tag === 'latest' ? 'latest' : undefined;
}

export const pinnedImages: ResourceRule = {
  name: 'pinned-images',
  description: 'No image is :latest or untagged; images pushed to ECR by the program are referenced by digest',
  enforcementLevel: 'mandatory',
  check: perContainer((container) => {
    const image = known(() => container.image as string | undefined);
    // Decided at preview by pinned-images-at-preview; at `up` it is known before the workload is created.
    if (image === UNKNOWN) return [];
    const reference = image ?? '';
    const floating = floatingTag(reference);
    if (floating === 'untagged') return [`runs the untagged image "${reference}"`];
    if (floating === 'latest') return [`runs "${reference}", which is :latest`];
    if (!reference.includes('@sha256:') && ECR.test(reference))
      return [`runs "${reference}" from ECR by tag, not by digest`];
    return [];
  }),
};

const BUILD = 'docker:index/image:Image';
const ECR_REPOSITORY = 'aws:ecr/repository:Repository';

function isRepository(target: string, repository: PolicyResource): boolean {
  const url = known(() => repository.props.repositoryUrl as string | undefined);
  if (typeof url === 'string') return target === url;
  return ECR.test(target) && target.slice(target.indexOf('/') + 1) === repository.props.name;
}

/** Why what `build` pushes is not this stack's ECR repository under a pinned tag. */
function buildProblems(build: PolicyResource, repositories: PolicyResource[]): string[] {
  if (known(() => build.props.skipPush) === true) return ['is not pushed (skipPush)'];
  const imageName = known(() => build.props.imageName as string | undefined);
  // Unknown until the repository exists, or absent: pulumi-docker's Check reads its inputs without unknowns.
  if (imageName === UNKNOWN || imageName === undefined) {
    const fromRepository = repositories.some((repository) => build.dependencies?.includes(repository.urn ?? ''));
    return fromRepository ? [] : ['is pushed to a name unknown at preview that no ECR repository of this stack gives'];
  }
  const floating = floatingTag(imageName);
  if (floating === 'untagged') return [`is pushed untagged as "${imageName}"`];
  if (floating === 'latest') return [`is pushed as "${imageName}", which is :latest`];
  const target = imageName.replace(TAG, '');
  return repositories.some((repository) => isRepository(target, repository))
    ? []
    : [`is pushed to "${target}", not to this stack's ECR repository`];
}

export const pinnedImagesAtPreview: StackRule = {
  name: 'pinned-images-at-preview',
  description:
    "An image known only at `up` is the digest of a build in this stack, pushed under a pinned tag to this stack's ECR repository",
  enforcementLevel: 'mandatory',
  check(resources) {
    const byUrn = new Map(resources.map((resource) => [resource.urn, resource]));
    const repositories = resources.filter((resource) => resource.type === ECR_REPOSITORY);
    return resources.flatMap((resource) =>
      perContainer((container) => {
        if (known(() => container.image) !== UNKNOWN) return [];
        const builds = (resource.dependencies ?? [])
          .map((urn) => byUrn.get(urn))
          .filter((dependency): dependency is PolicyResource => dependency?.type === BUILD);
        if (builds.length === 0) return ['runs an image known only at `up` that no build in this stack produces'];
        return builds.flatMap((build) =>
          buildProblems(build, repositories).map((problem) => `runs the image of ${build.name}, which ${problem}`),
        );
      })(resource),
    );
  },
};

const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL/i;
const URL_WITH_CREDENTIALS = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]+:[^/@\s]+@/i;

export const noLiteralSecrets: ResourceRule = {
  name: 'no-literal-secrets',
  description: 'Environment variables that hold passwords, tokens or secrets come from a Secret, never a literal',
  enforcementLevel: 'mandatory',
  check: perContainer((container) =>
    (container.env ?? [])
      .filter(
        (variable: Spec) =>
          typeof variable.value === 'string' &&
          variable.value !== '' &&
          (SECRET_NAME.test(variable.name) || URL_WITH_CREDENTIALS.test(variable.value)),
      )
      .map((variable: Spec) => `sets ${variable.name} to a literal value; use valueFrom.secretKeyRef`),
  ),
};

export const privateDatabase: ResourceRule = {
  name: 'database-not-exposed',
  description: 'Services of the database tier are ClusterIP or headless, never NodePort or LoadBalancer',
  enforcementLevel: 'mandatory',
  check(resource) {
    if (resource.type !== SERVICE || resource.props.spec?.selector?.[COMPONENT] !== 'database') return [];
    const type = resource.props.spec?.type ?? 'ClusterIP';
    return type === 'ClusterIP' ? [] : [`${resource.name}: the database Service is exposed as ${type}`];
  },
};

export const noServiceAccountToken: ResourceRule = {
  name: 'no-service-account-token',
  description: 'Pods do not mount a service account token: nothing here talks to the Kubernetes API',
  enforcementLevel: 'mandatory',
  check(resource) {
    const pod = podSpec(resource);
    return pod && pod.automountServiceAccountToken !== false
      ? [`${resource.name}: mounts a service account token (set automountServiceAccountToken: false)`]
      : [];
  },
};

export const autoscalerFloor: ResourceRule = {
  name: 'hpa-min-replicas',
  description: 'An autoscaler keeps at least two replicas',
  enforcementLevel: 'mandatory',
  check(resource) {
    if (resource.type !== 'kubernetes:autoscaling/v2:HorizontalPodAutoscaler') return [];
    const min = resource.props.spec?.minReplicas ?? 1;
    return min >= 2 ? [] : [`${resource.name}: minReplicas is ${min}; one pod is a single point of failure`];
  },
};

export const ecrScanOnPush: ResourceRule = {
  name: 'ecr-scan-on-push',
  description: 'ECR repositories scan images on push',
  enforcementLevel: 'mandatory',
  check(resource) {
    if (resource.type !== 'aws:ecr/repository:Repository') return [];
    return resource.props.imageScanningConfiguration?.scanOnPush === true
      ? []
      : [`${resource.name}: scanOnPush is off`];
  },
};

export const encryptedVolumes: ResourceRule = {
  name: 'encrypted-ebs-volumes',
  description: "EBS volumes are encrypted: the StorageClasses of the EBS CSI driver and the nodes' root volumes",
  enforcementLevel: 'mandatory',
  check(resource) {
    if (
      resource.type === 'kubernetes:storage.k8s.io/v1:StorageClass' &&
      resource.props.provisioner === 'ebs.csi.aws.com'
    ) {
      return resource.props.parameters?.encrypted === 'true' ? [] : [`${resource.name}: EBS volumes are not encrypted`];
    }
    if (resource.type === 'aws:ebs/volume:Volume') {
      return resource.props.encrypted === true ? [] : [`${resource.name}: the EBS volume is not encrypted`];
    }
    if (resource.type === 'aws:ec2/launchTemplate:LaunchTemplate') {
      const unencrypted = (resource.props.blockDeviceMappings ?? []).filter(
        (mapping: Spec) => mapping.ebs && String(mapping.ebs.encrypted) !== 'true',
      );
      return unencrypted.length ? [`${resource.name}: node root volumes are not encrypted`] : [];
    }
    if (resource.type === 'eks:index:Cluster' && resource.props.skipDefaultNodeGroup !== true) {
      return resource.props.nodeRootVolumeEncrypted === true
        ? []
        : [`${resource.name}: node root volumes are not encrypted`];
    }
    return [];
  },
};

export const controlPlaneLogs: ResourceRule = {
  name: 'eks-control-plane-logs',
  description: 'The EKS control plane sends its logs to CloudWatch (advisory: they cost money)',
  enforcementLevel: 'advisory',
  check(resource) {
    if (resource.type !== 'eks:index:Cluster') return [];
    return (resource.props.enabledClusterLogTypes ?? []).length > 0
      ? []
      : [`${resource.name}: control plane logs are off`];
  },
};

// biome-ignore lint/suspicious/noExplicitAny: NetworkPolicy props are untyped.
function ingressRules(policy: PolicyResource): any[] {
  return policy.props.spec?.ingress ?? [];
}

function networkPolicies(resources: PolicyResource[], component: string): PolicyResource[] {
  return resources.filter(
    (r) =>
      r.type === 'kubernetes:networking.k8s.io/v1:NetworkPolicy' &&
      r.props.spec?.podSelector?.matchLabels?.[COMPONENT] === component &&
      (r.props.spec?.policyTypes ?? ['Ingress']).includes('Ingress'),
  );
}

export const networkIsolation: StackRule = {
  name: 'network-isolation',
  description:
    "Only the web tier's pods reach the database port; the web pods accept traffic only on the ports their policies name",
  enforcementLevel: 'mandatory',
  check(resources) {
    const problems: string[] = [];
    const workloads = resources.filter((r) => podSpec(r));
    const tiers = new Set(workloads.map((w) => podLabels(w)[COMPONENT]));
    if (tiers.has('database')) {
      const policies = networkPolicies(resources, 'database');
      if (policies.length === 0) problems.push('no NetworkPolicy selects the database pods');
      for (const policy of policies) {
        for (const rule of ingressRules(policy)) {
          const peers = rule.from ?? [];
          const onlyWeb =
            peers.length > 0 &&
            peers.every((peer: Spec) => peer.podSelector?.matchLabels?.[COMPONENT] === 'web' && !peer.ipBlock);
          if (!onlyWeb) problems.push(`${policy.name}: lets in more than the web tier's pods`);
        }
      }
    }
    if (tiers.has('web')) {
      const policies = networkPolicies(resources, 'web');
      if (policies.length === 0) problems.push("no NetworkPolicy limits the web pods' ingress");
      for (const policy of policies) {
        for (const rule of ingressRules(policy)) {
          if (!(rule.ports ?? []).length) problems.push(`${policy.name}: lets in traffic on every port`);
        }
      }
    }
    return problems;
  },
};

export const webDisruptionBudget: StackRule = {
  name: 'web-disruption-budget',
  description: 'A PodDisruptionBudget covers the web tier',
  enforcementLevel: 'mandatory',
  check(resources) {
    const web = resources.filter((r) => podSpec(r) && podLabels(r)[COMPONENT] === 'web');
    const budgets = resources.filter((r) => r.type === 'kubernetes:policy/v1:PodDisruptionBudget');
    return web
      .filter((workload) => !budgets.some((pdb) => selects(pdb.props.spec?.selector?.matchLabels, podLabels(workload))))
      .map((workload) => `${workload.name}: no PodDisruptionBudget covers it`);
  },
};

const ALB = 'alb.ingress.kubernetes.io';

/** The listener ports an ALB Ingress asks for, by protocol; the controller's default is HTTP 80 alone. */
function listenPorts(annotations: Record<string, string>): { protocol: string; port: number }[] {
  const ports = JSON.parse(annotations[`${ALB}/listen-ports`] ?? '[{"HTTP": 80}]') as Record<string, number>[];
  return ports.flatMap((entry) => Object.entries(entry).map(([protocol, port]) => ({ protocol, port })));
}

export const httpsOnlyWithDomain: StackRule = {
  name: 'https-only-with-domain',
  description:
    'With a domain (an alias record in Route 53), no ALB listener serves plain HTTP: port 80 only redirects to HTTPS',
  enforcementLevel: 'mandatory',
  check(resources) {
    const domain = resources.some(
      (r) => r.type === 'aws:route53/record:Record' && known(() => r.props.aliases) !== undefined,
    );
    if (!domain) return [];
    return resources
      .filter((r) => r.type === 'kubernetes:networking.k8s.io/v1:Ingress' && r.props.spec?.ingressClassName === 'alb')
      .flatMap((ingress) => {
        const annotations = ingress.props.metadata?.annotations ?? {};
        const ports = listenPorts(annotations);
        const https = ports.filter((p) => p.protocol === 'HTTPS').map((p) => String(p.port));
        if (!ports.some((p) => p.protocol === 'HTTP')) return [];
        const redirect = annotations[`${ALB}/ssl-redirect`];
        if (redirect !== undefined && https.includes(String(redirect))) return [];
        return [
          `${ingress.name}: an HTTP listener serves content although a domain is configured (set ${ALB}/ssl-redirect to an HTTPS port of ${ALB}/listen-ports)`,
        ];
      });
  },
};

export const RESOURCE_RULES: ResourceRule[] = [
  restrictedPodSecurity,
  readOnlyRootFilesystem,
  readOnlyRootFilesystemEverywhere,
  resourcesAndProbes,
  pinnedImages,
  noLiteralSecrets,
  privateDatabase,
  noServiceAccountToken,
  autoscalerFloor,
  ecrScanOnPush,
  encryptedVolumes,
  controlPlaneLogs,
];

export const STACK_RULES: StackRule[] = [
  networkIsolation,
  webDisruptionBudget,
  pinnedImagesAtPreview,
  httpsOnlyWithDomain,
];
