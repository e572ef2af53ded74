import type * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';

/**
 * How every tier's Kubernetes provider applies changes: server-side apply, and Secrets updated in
 * place (the provider's default replaces a Secret whose data changes, and with it, delete first,
 * every Deployment and StatefulSet that reads it: a password change would recreate both tiers).
 */
export const PROVIDER_SETTINGS = { enableServerSideApply: true, enableSecretMutable: true } as const;

/** A data volume the program owns, offered to one claim. */
export interface DataVolumeArgs {
  /** The namespace and name of the one claim that may bind it. */
  readonly namespace: pulumi.Input<string>;
  readonly claimName: string;
  readonly sizeGi: number;
  /** Destroy leaves the disk (and only the disk) behind. */
  readonly keep: boolean;
  readonly parent: pulumi.Resource;
}

/** What every cluster gives the tiers, whether EKS or local: where to deploy and where volumes come from. */
export interface ClusterTarget {
  /** The Kubernetes provider every tier deploys with. */
  readonly provider: k8s.Provider;
  /** The StorageClass the database's volume claim names. */
  readonly storageClassName: pulumi.Output<string>;
  /** Add-ons and classes the tiers need before they start and that must outlive them on destroy. */
  readonly addons: pulumi.Resource[];
  readonly clusterName: pulumi.Output<string>;
  /** eks: a disk of the stack's own, so destroy deletes it and waits until it is gone; absent: the StorageClass provisions one. */
  dataVolume?(name: string, args: DataVolumeArgs): k8s.core.v1.PersistentVolume;
}
