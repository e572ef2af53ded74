/**
 * The add-ons a kind cluster comes with, as manifests for the real node: cluster DNS (CoreDNS),
 * the metrics API the autoscaler reads (metrics-server), and the default `standard` StorageClass
 * backed by local-path-provisioner, as on kind. Their images are built here (scripts/node-images.sh)
 * and never pulled.
 */

export const CLUSTER_DNS_IP = '10.96.0.10';
const SYSTEM = 'kube-system';
const STORAGE = 'local-path-storage';

/** Image references by name, from scripts/node-images.sh's index. */
export type Images = Record<string, string>;

const restricted = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function deployment(
  namespace: string,
  name: string,
  serviceAccountName: string,
  container: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  const labels = { 'k8s-app': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName,
          priorityClassName: 'system-cluster-critical',
          containers: [{ name, imagePullPolicy: 'Never', securityContext: restricted, ...container }],
          ...extra,
        },
      },
    },
  };
}

function clusterRole(name: string, rules: object[], subject: { name: string; namespace: string }) {
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', ...subject }],
    },
  ];
}

const serviceAccount = (name: string, namespace: string) => ({
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: { name, namespace },
});

/** CoreDNS for cluster.local only: it forwards nothing, so no query leaves the machine. */
export function coreDns(images: Images): object[] {
  const corefile = `.:1053 {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
`;
  return [
    serviceAccount('coredns', SYSTEM),
    ...clusterRole(
      'system:coredns',
      [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
      { name: 'coredns', namespace: SYSTEM },
    ),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: SYSTEM },
      data: { Corefile: corefile },
    },
    deployment(
      SYSTEM,
      'coredns',
      'coredns',
      {
        image: images.coredns,
        args: ['-conf', '/etc/coredns/Corefile'],
        ports: [
          { name: 'dns', containerPort: 1053, protocol: 'UDP' },
          { name: 'dns-tcp', containerPort: 1053, protocol: 'TCP' },
        ],
        readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
        livenessProbe: { httpGet: { path: '/health', port: 8080 } },
        volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
      },
      { dnsPolicy: 'Default', volumes: [{ name: 'config', configMap: { name: 'coredns' } }] },
    ),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: SYSTEM, labels: { 'k8s-app': 'kube-dns' } },
      spec: {
        clusterIP: CLUSTER_DNS_IP,
        selector: { 'k8s-app': 'coredns' },
        ports: [
          { name: 'dns', port: 53, targetPort: 1053, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, targetPort: 1053, protocol: 'TCP' },
        ],
      },
    },
  ];
}

/** metrics-server behind the aggregated metrics API, reading the kubelet's own serving port. */
export function metricsServer(images: Images): object[] {
  const subject = { name: 'metrics-server', namespace: SYSTEM };
  return [
    serviceAccount('metrics-server', SYSTEM),
    ...clusterRole(
      'system:metrics-server',
      [
        { apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
      ],
      subject,
    ),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'metrics-server:system:auth-delegator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', ...subject }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'metrics-server-auth-reader', namespace: SYSTEM },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: 'extension-apiserver-authentication-reader',
      },
      subjects: [{ kind: 'ServiceAccount', ...subject }],
    },
    deployment(
      SYSTEM,
      'metrics-server',
      'metrics-server',
      {
        image: images['metrics-server'],
        args: [
          '--cert-dir=/tmp',
          '--secure-port=10443',
          '--kubelet-preferred-address-types=InternalIP',
          '--kubelet-use-node-status-port',
          '--kubelet-insecure-tls',
          '--metric-resolution=15s',
        ],
        ports: [{ name: 'https', containerPort: 10443 }],
        readinessProbe: { httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' }, periodSeconds: 5 },
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
      },
      { volumes: [{ name: 'tmp', emptyDir: {} }] },
    ),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'metrics-server', namespace: SYSTEM },
      spec: { selector: { 'k8s-app': 'metrics-server' }, ports: [{ name: 'https', port: 443, targetPort: 'https' }] },
    },
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1beta1.metrics.k8s.io' },
      spec: {
        service: { name: 'metrics-server', namespace: SYSTEM },
        group: 'metrics.k8s.io',
        version: 'v1beta1',
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    },
  ];
}

/**
 * The NetworkPolicy enforcer, kube-network-policies (patched for this kernel by scripts/toolchain.sh):
 * a privileged pod on the node's network that programs netfilter and judges new connections.
 */
export function networkPolicies(images: Images): object[] {
  const name = 'kube-network-policies';
  const labels = { 'k8s-app': name };
  return [
    serviceAccount(name, SYSTEM),
    ...clusterRole(
      name,
      [
        { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'watch'] },
      ],
      { name, namespace: SYSTEM },
    ),
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace: SYSTEM, labels },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            hostNetwork: true,
            serviceAccountName: name,
            priorityClassName: 'system-node-critical',
            tolerations: [{ operator: 'Exists' }],
            containers: [
              {
                name,
                image: images[name],
                imagePullPolicy: 'Never',
                args: [
                  '--hostname-override=$(NODE_NAME)',
                  '--disable-nri', // containerd 1.6 has no NRI
                  '--netfilter-bug-1766-fix=false', // fixed in this kernel (6.12 and later)
                  '--metrics-bind-address=127.0.0.1:29080',
                ],
                env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
                securityContext: { privileged: true, runAsUser: 0 },
              },
            ],
          },
        },
      },
    },
  ];
}

/** kind's default StorageClass: `standard`, local directories made on demand, deleted with their claim. */
export function localPathStorage(images: Images, hostPath: string): object[] {
  const config = {
    nodePathMap: [{ node: 'DEFAULT_PATH_FOR_NON_LISTED_NODES', paths: [hostPath] }],
  };
  const helperPod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'helper-pod' },
    spec: { containers: [{ name: 'helper-pod', image: images.debian, imagePullPolicy: 'Never' }] },
  };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: STORAGE } },
    serviceAccount('local-path-provisioner', STORAGE),
    ...clusterRole(
      'local-path-provisioner',
      [
        {
          apiGroups: [''],
          resources: ['nodes', 'persistentvolumeclaims', 'configmaps', 'pods', 'pods/log'],
          verbs: ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'],
        },
        { apiGroups: [''], resources: ['endpoints', 'persistentvolumes'], verbs: ['*'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
        { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get', 'list', 'watch'] },
      ],
      { name: 'local-path-provisioner', namespace: STORAGE },
    ),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'local-path-config', namespace: STORAGE },
      data: {
        'config.json': JSON.stringify(config),
        setup: '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n',
        teardown: '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n',
        'helperPod.yaml': JSON.stringify(helperPod),
      },
    },
    deployment(
      STORAGE,
      'local-path-provisioner',
      'local-path-provisioner',
      {
        image: images['local-path-provisioner'],
        args: [
          'start',
          '--config=/etc/config/config.json',
          '--service-account-name=local-path-provisioner',
          '--provisioner-name=rancher.io/local-path',
          `--helper-image=${images.debian}`,
          '--configmap-name=local-path-config',
        ],
        env: [{ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
        volumeMounts: [{ name: 'config', mountPath: '/etc/config', readOnly: true }],
      },
      { volumes: [{ name: 'config', configMap: { name: 'local-path-config' } }] },
    ),
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'rancher.io/local-path',
      volumeBindingMode: 'WaitForFirstConsumer',
      reclaimPolicy: 'Delete',
    },
  ];
}
