import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';

/** The labels a tier's pods carry and its Services and policies select on. */
export function tierLabels(tier: 'web' | 'database'): Record<string, string> {
  return { 'app.kubernetes.io/name': 'two-tier', 'app.kubernetes.io/component': tier };
}

/** An env var's value read from a key of a Secret. */
export function fromSecret(name: pulumi.Input<string>, key: string) {
  return { secretKeyRef: { name, key } };
}

/** The Pod Security Standard "restricted" settings every pod of this program runs with. */
export function restrictedPod(uid: number) {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The container half of "restricted", with a read-only root filesystem. */
export const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

/** Who may connect: anyone, the web pods of this stack, or the pods of one namespace (never the outside). */
export type IngressSource = 'anywhere' | 'web' | { namespace: string };

function peers(from: IngressSource) {
  if (from === 'anywhere') return {};
  if (from === 'web') return { from: [{ podSelector: { matchLabels: tierLabels(from) } }] };
  // The API server sets this label on every namespace to its name, so no one can give it to another.
  return { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': from.namespace } } }] };
}

/** A NetworkPolicy that lets traffic into a tier's pods on one TCP port only, from `from` only. */
export function allowIngress(
  name: string,
  args: { namespace: pulumi.Input<string>; tier: 'web' | 'database'; port: number; from: IngressSource },
  opts: pulumi.CustomResourceOptions,
): k8s.networking.v1.NetworkPolicy {
  return new k8s.networking.v1.NetworkPolicy(
    name,
    {
      metadata: { name, namespace: args.namespace, labels: tierLabels(args.tier) },
      spec: {
        podSelector: { matchLabels: tierLabels(args.tier) },
        policyTypes: ['Ingress'],
        ingress: [
          {
            ...peers(args.from),
            ports: [{ protocol: 'TCP', port: args.port }],
          },
        ],
      },
    },
    opts,
  );
}

/** What every Kubernetes object of a tier shares: the component it belongs to, its namespace and provider. */
export interface TierObjects {
  /** The tier's component's name: every object's name starts with it. */
  readonly name: string;
  /** The tier's component: the parent of every object. */
  readonly parent: pulumi.Resource;
  /** Which tier, and so which labels. */
  readonly tier: 'web' | 'database';
  /** The namespace of the stack. */
  readonly namespace: pulumi.Input<string>;
  /** The cluster's Kubernetes provider. */
  readonly provider: k8s.Provider;
}

/** An object's metadata: named `<component>-<suffix>` in the stack's namespace, with the tier's labels. */
export function objectMetadata(objects: TierObjects, suffix: string) {
  return { name: `${objects.name}-${suffix}`, namespace: objects.namespace, labels: tierLabels(objects.tier) };
}

/** The options of each Kubernetes object of a tier. */
export function objectOptions(objects: TierObjects) {
  return { parent: objects.parent, provider: objects.provider };
}
