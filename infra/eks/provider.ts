import type * as aws from '@pulumi/aws';
import type * as eks from '@pulumi/eks';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { PROVIDER_SETTINGS } from '../cluster';

export interface EksProviderArgs {
  /** The cluster the provider talks to. */
  readonly cluster: eks.Cluster;
  /** The access entries that admit whoever runs `up`: the provider's first call waits for them. */
  readonly accessEntries: pulumi.Output<aws.eks.AccessEntry[]>;
}

export interface EksProvider {
  /** The Kubernetes provider every tier deploys with. */
  readonly provider: k8s.Provider;
  /** Secret: the kubeconfig for kubectl. */
  readonly kubeconfig: pulumi.Output<string>;
}

/** The cluster's Kubernetes provider and the kubeconfig people use. `name` is the owning component's, its parent. */
export function eksProvider(name: string, args: EksProviderArgs, parent: pulumi.Resource): EksProvider {
  // No profile: the state must serve a destroy run elsewhere; `aws eks get-token` reads AWS_PROFILE there.
  const kubeconfig = pulumi.secret(args.cluster.kubeconfigJson);
  const provider = new k8s.Provider(
    `${name}-k8s`,
    { kubeconfig, ...PROVIDER_SETTINGS },
    { parent, dependsOn: args.accessEntries },
  );
  return { provider, kubeconfig };
}
