import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';
import { POD_IDENTITY_TRUST_POLICY } from './pod-identity';

/** The EBS CSI controller's service account in kube-system, as the add-on creates it. */
const EBS_CSI_SERVICE_ACCOUNT = 'ebs-csi-controller-sa';

export interface EksAddonsArgs {
  /** The cluster's name, as EKS knows it. */
  readonly clusterName: pulumi.Input<string>;
  /** The add-ons' pods need nodes to run on: created after these, deleted before them. */
  readonly nodeGroups: pulumi.Resource[];
  /** The Pod Identity agent: the EBS CSI controller's pods take their role through it, so they start after it. */
  readonly podIdentityAgent: aws.eks.Addon;
}

export interface EksAddons {
  /** The EBS CSI driver: without it every claim stays Pending. */
  readonly ebsCsi: aws.eks.Addon;
  /** metrics-server, so the autoscaler can see CPU. */
  readonly metricsServer: aws.eks.Addon;
}

/**
 * The EKS add-ons and the IAM identities they act as: the EBS CSI driver with its own role, taken through
 * EKS Pod Identity, and metrics-server. `name` is the owning component's, the parent of each.
 */
export function eksAddons(name: string, args: EksAddonsArgs, parent: pulumi.Resource): EksAddons {
  const ebsCsiRole = new aws.iam.Role(
    `${name}-ebs-csi`,
    {
      description: 'The EBS CSI controller: creates, attaches and deletes the database volume',
      assumeRolePolicy: POD_IDENTITY_TRUST_POLICY,
    },
    { parent },
  );
  const ebsCsiPolicy = new aws.iam.RolePolicyAttachment(
    `${name}-ebs-csi`,
    { role: ebsCsiRole.name, policyArn: 'arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy' },
    { parent },
  );
  const ebsCsi = new aws.eks.Addon(
    `${name}-ebs-csi`,
    {
      clusterName: args.clusterName,
      addonName: 'aws-ebs-csi-driver',
      // The add-on owns this association (add-ons cannot adopt one made apart) and deletes it with itself.
      podIdentityAssociations: [{ serviceAccount: EBS_CSI_SERVICE_ACCOUNT, roleArn: ebsCsiRole.arn }],
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'OVERWRITE',
    },
    { parent, dependsOn: [...args.nodeGroups, ebsCsiPolicy, args.podIdentityAgent] },
  );
  const metricsServer = new aws.eks.Addon(
    `${name}-metrics-server`,
    { clusterName: args.clusterName, addonName: 'metrics-server', resolveConflictsOnCreate: 'OVERWRITE' },
    { parent, dependsOn: args.nodeGroups },
  );
  return { ebsCsi, metricsServer };
}
