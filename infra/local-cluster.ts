import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { ClusterTarget } from './cluster';

export type LocalClusterKind = 'kind' | 'minikube' | 'docker-desktop';

export interface LocalClusterArgs {
  /** Which local cluster this is; it decides the storage class and how images reach the nodes. */
  readonly kind: LocalClusterKind;
  /** The kubeconfig context; empty for the current one. */
  readonly context: string;
}

/** The default StorageClass each local cluster ships with (kind and minikube bind on first use). */
const STORAGE_CLASSES: Record<LocalClusterKind, string> = {
  kind: 'standard',
  minikube: 'standard',
  'docker-desktop': 'hostpath',
};

/** The cluster of the user's kubeconfig (kind, minikube or Docker Desktop): nothing is created in it here. */
export class LocalCluster extends pulumi.ComponentResource implements ClusterTarget {
  public readonly provider: k8s.Provider;
  public readonly storageClassName: pulumi.Output<string>;
  public readonly addons: pulumi.Resource[] = [];
  public readonly clusterName: pulumi.Output<string>;

  constructor(name: string, args: LocalClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:LocalCluster', name, {}, opts);
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { context: args.context || undefined, enableServerSideApply: true },
      { parent: this },
    );
    this.storageClassName = pulumi.output(STORAGE_CLASSES[args.kind]);
    this.clusterName = pulumi.output(args.context || `current ${args.kind} context`);
    this.registerOutputs({ storageClassName: this.storageClassName, clusterName: this.clusterName });
  }
}
