import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import type { ClusterTarget } from '../cluster';
import { objectMetadata, objectOptions, type TierObjects } from '../labels';
import type { DbEngine } from './engines';

export interface DataClaimArgs {
  /** The engine: each has a claim, and a volume, of its own. */
  readonly engine: DbEngine;
  /** The StorageClass of the data volume. */
  readonly storageClassName: pulumi.Input<string>;
  /** The data volume, GiB. */
  readonly volumeSizeGi: number;
  /** Keep the data when the stack is destroyed or the engine switched: the disk (eks) or the claim (local). */
  readonly protectData: boolean;
  /** The cluster's own data volume, when it has one (eks); otherwise the StorageClass provisions the claim's. */
  readonly dataVolume?: ClusterTarget['dataVolume'];
  /** What must exist first and be deleted last (the storage add-ons). */
  readonly dependsOn?: pulumi.Resource[];
}

/** The engine's data claim, bound to the cluster's own volume when it makes one. */
export function dataClaim(tier: TierObjects, args: DataClaimArgs): k8s.core.v1.PersistentVolumeClaim {
  const claimName = `${tier.name}-${args.engine}-data`;
  const volume = args.dataVolume?.(claimName, {
    namespace: tier.namespace,
    claimName,
    sizeGi: args.volumeSizeGi,
    keep: args.protectData,
    parent: tier.parent,
  });
  return new k8s.core.v1.PersistentVolumeClaim(
    claimName,
    {
      metadata: {
        ...objectMetadata(tier, `${args.engine}-data`),
        // The claim binds only once its pod is scheduled (WaitForFirstConsumer): do not wait for it here.
        annotations: { 'pulumi.com/skipAwait': 'true' },
      },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: args.storageClassName,
        volumeName: volume?.metadata.name,
        resources: { requests: { storage: `${args.volumeSizeGi}Gi` } },
      },
    },
    // No `protect`: destroy must never stop half-way with the cluster still billing.
    {
      ...objectOptions(tier),
      retainOnDelete: args.protectData && !volume,
      dependsOn: [...(volume ? [volume] : []), ...(args.dependsOn ?? [])],
    },
  );
}
