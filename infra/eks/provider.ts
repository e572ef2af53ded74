import type * as eks from '@pulumi/eks';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { PROVIDER_SETTINGS } from '../cluster';

export interface EksProviderArgs {
  /** The cluster the provider talks to. */
  readonly cluster: eks.Cluster;
  /** The access entries and policy associations that admit whoever runs `up` or `destroy` (`ClusterAccess.grants`). */
  readonly grants: pulumi.Output<pulumi.Resource[]>;
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
    // After the grants that admit its caller, so destroy removes them only once every object it deployed is gone.
    { parent, dependsOn: args.grants },
  );
  return { provider, kubeconfig };
}
