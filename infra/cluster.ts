import type * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';

/** What every cluster gives the tiers, whether EKS or local: where to deploy and where volumes come from. */
export interface ClusterTarget {
  /** The Kubernetes provider every tier deploys with. */
  readonly provider: k8s.Provider;
  /** The StorageClass the database's volume claim names. */
  readonly storageClassName: pulumi.Output<string>;
  /** Add-ons and classes the tiers need before they start and that must outlive them on destroy. */
  readonly addons: pulumi.Resource[];
  readonly clusterName: pulumi.Output<string>;
}
