import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { DataVolumeArgs } from '../cluster';
import type { DataSnapshots } from '../data-snapshots';

const STORAGE_CLASS = 'gp3-encrypted';

export interface StorageClassArgs {
  /** The cluster's Kubernetes provider. */
  readonly provider: k8s.Provider;
  /** The EBS CSI driver that provisions the class's volumes. */
  readonly csiDriver: aws.eks.Addon;
}

/** The default class: encrypted gp3, bound where the pod lands. `name` is the owning component's, its parent. */
export function storageClass(
  name: string,
  args: StorageClassArgs,
  parent: pulumi.Resource,
): k8s.storage.v1.StorageClass {
  return new k8s.storage.v1.StorageClass(
    `${name}-gp3`,
    {
      metadata: {
        name: STORAGE_CLASS,
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      },
      provisioner: 'ebs.csi.aws.com',
      parameters: { type: 'gp3', encrypted: 'true', 'csi.storage.k8s.io/fstype': 'ext4' },
      // Bind where the pod is scheduled, so the volume is created in the node's zone.
      volumeBindingMode: 'WaitForFirstConsumer',
      reclaimPolicy: 'Delete',
      allowVolumeExpansion: true,
    },
    { parent, provider: args.provider, dependsOn: [args.csiDriver] },
  );
}

/** Where the cluster's data disks are made, and what makes and snapshots them. */
export interface DataDiskSettings {
  /** The cluster's Kubernetes provider. */
  readonly provider: k8s.Provider;
  /** The zone data volumes are created in, and so where the pods that mount them run. */
  readonly zone: pulumi.Output<string>;
  /** The EBS CSI driver that attaches the disk: it must outlive the disk. */
  readonly csiDriver: aws.eks.Addon;
  /** What the disk starts from and the tags its snapshots carry. */
  readonly snapshots: DataSnapshots;
}

/**
 * The stack's own gp3 encrypted EBS volume as a PersistentVolume for one claim. Pulumi deletes the disk itself
 * (after the pod, claim and PV, while the CSI driver can still detach it), or leaves only the disk when `keep`.
 * The provider snapshots it first (`finalSnapshot`, with the disk's tags); a new disk starts from `restoreFrom`.
 */
export function dataVolume(name: string, args: DataVolumeArgs, disk: DataDiskSettings): k8s.core.v1.PersistentVolume {
  const volume = new aws.ebs.Volume(
    `${name}-ebs`,
    {
      availabilityZone: disk.zone,
      size: args.sizeGi,
      type: 'gp3',
      encrypted: true,
      snapshotId: disk.snapshots.restoreFrom,
      finalSnapshot: true,
      tags: {
        Name: pulumi.interpolate`${args.namespace}/${args.claimName}`,
        'two-tier/claim': args.claimName,
        ...disk.snapshots.tags,
      },
    },
    {
      parent: args.parent,
      retainOnDelete: args.keep,
      dependsOn: [disk.csiDriver, disk.snapshots.prune],
      // Only a new disk starts from a snapshot: a newer snapshot must never replace the disk in use.
      ignoreChanges: ['snapshotId'],
      // Deleting now waits for the final snapshot to complete (the provider's default is 10 minutes).
      customTimeouts: { delete: '40m' },
    },
  );
  return new k8s.core.v1.PersistentVolume(
    `${name}-pv`,
    {
      metadata: { name: pulumi.interpolate`${args.namespace}-${args.claimName}` },
      spec: {
        capacity: { storage: `${args.sizeGi}Gi` },
        accessModes: ['ReadWriteOnce'],
        // Kubernetes never deletes the disk: Pulumi does, or keeps it.
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: STORAGE_CLASS,
        claimRef: { namespace: args.namespace, name: args.claimName },
        csi: { driver: 'ebs.csi.aws.com', volumeHandle: volume.id, fsType: 'ext4' },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: [disk.zone] }] },
            ],
          },
        },
      },
    },
    { parent: args.parent, provider: disk.provider, dependsOn: [volume, disk.csiDriver] },
  );
}
