import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import yaml from 'js-yaml';
import { type ClusterTarget, PROVIDER_SETTINGS } from './cluster';

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
  /** Changes when the cluster is recreated (a new API server address or CA); empty without a readable kubeconfig. */
  public readonly identity: string;

  constructor(name: string, args: LocalClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:LocalCluster', name, {}, opts);
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { context: args.context || undefined, ...PROVIDER_SETTINGS },
      { parent: this },
    );
    this.storageClassName = pulumi.output(STORAGE_CLASSES[args.kind]);
    this.clusterName = pulumi.output(args.context || `current ${args.kind} context`);
    this.identity = kubeconfigIdentity(args.context);
    this.registerOutputs({ storageClassName: this.storageClassName, clusterName: this.clusterName });
  }
}

interface Kubeconfig {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string } }[];
  clusters?: { name: string; cluster: { server?: string; 'certificate-authority-data'?: string } }[];
}

/** A hash of the context's API server and CA, from the kubeconfig files kubectl would read. */
function kubeconfigIdentity(context: string): string {
  const files = process.env.KUBECONFIG?.split(delimiter).filter(Boolean) ?? [join(homedir(), '.kube', 'config')];
  const configs = files.flatMap((file) => {
    try {
      return [yaml.load(readFileSync(file, 'utf8')) as Kubeconfig];
    } catch {
      return [];
    }
  });
  const name = context || configs.find((c) => c['current-context'])?.['current-context'];
  const clusterName = configs.flatMap((c) => c.contexts ?? []).find((c) => c.name === name)?.context.cluster;
  const cluster = configs.flatMap((c) => c.clusters ?? []).find((c) => c.name === clusterName)?.cluster;
  if (!cluster) return '';
  return createHash('sha256')
    .update(`${cluster.server ?? ''}\0${cluster['certificate-authority-data'] ?? ''}`)
    .digest('hex')
    .slice(0, 16);
}
