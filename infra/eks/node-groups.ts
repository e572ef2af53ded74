import * as aws from '@pulumi/aws';
import * as eks from '@pulumi/eks';
import * as pulumi from '@pulumi/pulumi';
import { assumableBy } from '../iam';
import { isBurstable } from '../instance-types';

const NODE_POLICIES = ['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy', 'AmazonEC2ContainerRegistryReadOnly'];

export interface NodeGroupsArgs {
  /** The cluster the nodes join. */
  readonly cluster: eks.Cluster;
  /** The EKS cluster's name, in the launch template's description. */
  readonly clusterName: string;
  /** The node instance type, e.g. "t3.small". */
  readonly instanceType: string;
  /** The data node's type, of the same family (so one launch template's CPU credit setting fits both). */
  readonly dataInstanceType: string;
  /** Nodes in all: one in the database volume's zone, the rest across all subnets. */
  readonly nodeCount: number;
  /** Each node's encrypted root volume, GiB. */
  readonly nodeVolumeSizeGi: number;
  /** The public subnets, in zone order: the first is the database volume's zone. */
  readonly subnets: aws.ec2.Subnet[];
}

/**
 * The managed node groups, their role and launch template (encrypted gp3 root volumes, IMDSv2 only):
 * one node always in the database volume's zone, the rest anywhere. `name` is the owning component's,
 * the parent of each resource.
 */
export function nodeGroups(name: string, args: NodeGroupsArgs, parent: pulumi.Resource): eks.ManagedNodeGroup[] {
  const nodeRole = new aws.iam.Role(
    `${name}-node`,
    { description: 'The nodes of the managed node group', assumeRolePolicy: assumableBy('ec2.amazonaws.com') },
    { parent },
  );
  const nodePolicies = NODE_POLICIES.map(
    (policy) =>
      new aws.iam.RolePolicyAttachment(
        `${name}-node-${policy}`,
        { role: nodeRole.name, policyArn: `arn:aws:iam::aws:policy/${policy}` },
        { parent },
      ),
  );
  const launchTemplate = new aws.ec2.LaunchTemplate(
    `${name}-nodes`,
    {
      description: `${args.clusterName} nodes: encrypted gp3 root volumes, IMDSv2 only`,
      // T3 Unlimited, the default, bills sustained CPU above the baseline; standard credits throttle instead.
      ...(isBurstable(args.instanceType) ? { creditSpecification: { cpuCredits: 'standard' } } : {}),
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          ebs: { volumeType: 'gp3', volumeSize: args.nodeVolumeSizeGi, encrypted: 'true', deleteOnTermination: 'true' },
        },
      ],
      metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2, httpEndpoint: 'enabled' },
    },
    { parent },
  );
  const nodeGroup = (suffix: string, subnetIds: pulumi.Input<string>[], size: number, instanceType: string) =>
    new eks.ManagedNodeGroup(
      `${name}-${suffix}`,
      {
        cluster: args.cluster,
        nodeRole,
        amiType: 'AL2023_x86_64_STANDARD',
        instanceTypes: [instanceType],
        subnetIds,
        scalingConfig: { desiredSize: size, minSize: size, maxSize: size },
        launchTemplate: { id: launchTemplate.id, version: pulumi.interpolate`${launchTemplate.latestVersion}` },
      },
      { parent, dependsOn: nodePolicies },
    );
  // Every engine's disk lives in the first zone: one node always there, replaced there, sized for an engine
  // switch (both engines' database pods); the rest anywhere.
  return [
    nodeGroup('data-nodes', [(args.subnets[0] as aws.ec2.Subnet).id], 1, args.dataInstanceType),
    ...(args.nodeCount > 1
      ? [
          nodeGroup(
            'nodes',
            args.subnets.map((subnet) => subnet.id),
            args.nodeCount - 1,
            args.instanceType,
          ),
        ]
      : []),
  ];
}
