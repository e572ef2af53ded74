import * as aws from '@pulumi/aws';
import type * as eks from '@pulumi/eks';
import * as pulumi from '@pulumi/pulumi';

export interface EksAddonsArgs {
  /** The cluster the add-ons run in, and whose OIDC provider their roles trust. */
  readonly cluster: eks.Cluster;
  /** Its name, as EKS knows it. */
  readonly clusterName: pulumi.Input<string>;
  /** The add-ons' pods need nodes to run on: created after these, deleted before them. */
  readonly nodeGroups: pulumi.Resource[];
}

export interface EksAddons {
  /** The EBS CSI driver: without it every claim stays Pending. */
  readonly ebsCsi: aws.eks.Addon;
  /** metrics-server, so the autoscaler can see CPU. */
  readonly metricsServer: aws.eks.Addon;
}

/**
 * The EKS add-ons and the IAM identities they act as: the EBS CSI driver with its own role, taken through
 * the cluster's OIDC provider, and metrics-server. `name` is the owning component's, the parent of each.
 */
export function eksAddons(name: string, args: EksAddonsArgs, parent: pulumi.Resource): EksAddons {
  const ebsCsiRole = new aws.iam.Role(
    `${name}-ebs-csi`,
    {
      description: 'The EBS CSI controller: creates, attaches and deletes the database volume',
      assumeRolePolicy: pulumi
        .all([args.cluster.oidcProviderArn, args.cluster.oidcProviderUrl])
        .apply(([providerArn, providerUrl]) => ebsCsiTrustPolicy(providerArn, providerUrl)),
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
      serviceAccountRoleArn: ebsCsiRole.arn,
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'OVERWRITE',
    },
    { parent, dependsOn: [...args.nodeGroups, ebsCsiPolicy] },
  );
  const metricsServer = new aws.eks.Addon(
    `${name}-metrics-server`,
    { clusterName: args.clusterName, addonName: 'metrics-server', resolveConflictsOnCreate: 'OVERWRITE' },
    { parent, dependsOn: args.nodeGroups },
  );
  return { ebsCsi, metricsServer };
}

/** Only the EBS CSI controller's service account, through the cluster's OIDC provider, may take the role. */
function ebsCsiTrustPolicy(providerArn: string, providerUrl: string): string {
  const issuer = providerUrl.replace(/^https:\/\//, '');
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: providerArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: 'system:serviceaccount:kube-system:ebs-csi-controller-sa',
            [`${issuer}:aud`]: 'sts.amazonaws.com',
          },
        },
      },
    ],
  });
}
