import * as aws from '@pulumi/aws';
import * as eks from '@pulumi/eks';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { type ClusterTarget, type DataVolumeArgs, PROVIDER_SETTINGS } from './cluster';
import { ClusterAccess, CREATED_BY_TAG, clusterCreator } from './cluster-access';
import type { EksSupportType } from './cost';
import type { DataSnapshots } from './data-snapshots';
import { assumableBy } from './iam';
import { isBurstable } from './instance-types';

export interface EksClusterArgs {
  /** The EKS cluster's name; also names its log group, so destroy can remove that too. */
  readonly clusterName: string;
  /** The pinned Kubernetes version of the control plane, e.g. "1.35". */
  readonly kubernetesVersion: string;
  /** What EKS does when the version leaves standard support; the cost estimate reads the same value. */
  readonly supportType: EksSupportType;
  /** The node instance type, e.g. "t3.small". */
  readonly instanceType: string;
  /** Nodes in all: one in the database volume's zone, the rest across both zones. */
  readonly nodeCount: number;
  /** Each node's encrypted root volume, GiB. */
  readonly nodeVolumeSizeGi: number;
  /** IAM principals given cluster-admin access entries besides the cluster's creator. */
  readonly admins: string[];
  /** Whether control-plane logs go to CloudWatch (api, audit, authenticator; kept 7 days). */
  readonly controlPlaneLogs: boolean;
  /** What the data disk starts from and the tags its snapshots carry; the disk is snapshotted before it is deleted. */
  readonly snapshots: DataSnapshots;
}

/** The VPC's range: nodes, pods (VPC CNI) and the load balancer's own addresses are all in it. */
export const VPC_CIDR = '10.42.0.0/16';
const SUBNETS = ['10.42.0.0/20', '10.42.16.0/20'];
/** The zones the subnets, nodes and load balancer span: one per subnet. */
export const ZONE_COUNT = SUBNETS.length;
const STORAGE_CLASS = 'gp3-encrypted';
const NODE_POLICIES = ['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy', 'AmazonEC2ContainerRegistryReadOnly'];

/**
 * An EKS cluster with what the seeds were missing: its own VPC with public subnets and no NAT gateway
 * (it would cost more than both nodes), API authentication and an OIDC provider, the EBS CSI driver
 * with its own IAM role (without it every claim stays Pending), a default encrypted gp3 class that
 * binds where the pod lands, and metrics-server so the autoscaler can see CPU.
 */
export class EksCluster extends pulumi.ComponentResource implements ClusterTarget {
  public readonly provider: k8s.Provider;
  public readonly storageClassName: pulumi.Output<string>;
  public readonly addons: pulumi.Resource[];
  public readonly clusterName: pulumi.Output<string>;
  /** Secret: the kubeconfig for kubectl. */
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly cluster: eks.Cluster;
  /** The zone data volumes are created in, and so where the pods that mount them run. */
  private readonly dataZone: pulumi.Output<string>;
  private readonly ebsCsi: aws.eks.Addon;
  private readonly snapshots: DataSnapshots;

  constructor(name: string, args: EksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:EksCluster', name, {}, opts);
    const parent = { parent: this };
    const clusterTag = { [`kubernetes.io/cluster/${args.clusterName}`]: 'shared' };

    const vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      { cidrBlock: VPC_CIDR, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: args.clusterName } },
      parent,
    );
    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id }, parent);
    const routes = new aws.ec2.RouteTable(
      `${name}-public`,
      { vpcId: vpc.id, routes: [{ cidrBlock: '0.0.0.0/0', gatewayId: gateway.id }] },
      parent,
    );
    // Zones that need no opt-in (never a Local Zone), whatever their state: a state change must not reorder
    // them and so move the subnets, the cluster and the database's disk.
    const zones = aws
      .getAvailabilityZonesOutput({ filters: [{ name: 'opt-in-status', values: ['opt-in-not-required'] }] }, parent)
      .names.apply((names) => [...names].sort());
    const network: pulumi.Resource[] = [vpc, gateway, routes];
    const subnets = SUBNETS.map((cidrBlock, index) => {
      const subnet = new aws.ec2.Subnet(
        `${name}-public-${index}`,
        {
          vpcId: vpc.id,
          cidrBlock,
          availabilityZone: zones[index],
          mapPublicIpOnLaunch: true,
          // Where the in-tree controller puts internet-facing load balancers.
          tags: { ...clusterTag, 'kubernetes.io/role/elb': '1', Name: `${args.clusterName}-public-${index}` },
        },
        parent,
      );
      network.push(
        subnet,
        new aws.ec2.RouteTableAssociation(
          `${name}-public-${index}`,
          { subnetId: subnet.id, routeTableId: routes.id },
          parent,
        ),
      );
      return subnet;
    });

    // EKS would create this group itself and leave it behind after destroy; created here, destroy removes it.
    const logGroup = args.controlPlaneLogs
      ? new aws.cloudwatch.LogGroup(
          `${name}-control-plane`,
          { name: `/aws/eks/${args.clusterName}/cluster`, retentionInDays: 7 },
          parent,
        )
      : undefined;

    const creator = clusterCreator(args.clusterName, parent);
    this.cluster = new eks.Cluster(
      `${name}-eks`,
      {
        name: args.clusterName,
        version: args.kubernetesVersion,
        // EKS's default is EXTENDED: a version past its 14 months would silently bill $0.60 an hour, not $0.10.
        upgradePolicy: { supportType: args.supportType },
        vpcId: vpc.id,
        publicSubnetIds: subnets.map((subnet) => subnet.id),
        // The nodes are the managed node group below: it rolls them on AMI or type changes, on gp3 root volumes.
        skipDefaultNodeGroup: true,
        // Without it the VPC CNI ignores NetworkPolicies, and any pod could reach the database.
        vpcCniOptions: { enableNetworkPolicy: true },
        authenticationMode: eks.AuthenticationMode.Api,
        // EKS gives the creator an admin entry; the tag keeps who that was for every later `up`.
        clusterTags: creator.apply((arn): Record<string, string> => (arn ? { [CREATED_BY_TAG]: arn } : {})),
        createOidcProvider: true,
        enabledClusterLogTypes: args.controlPlaneLogs ? ['api', 'audit', 'authenticator'] : [],
      },
      // Destroy removes the nodes and everything on them while they still reach the internet and the API endpoint.
      { parent: this, dependsOn: [...network, ...(logGroup ? [logGroup] : [])] },
    );

    const nodeRole = new aws.iam.Role(
      `${name}-node`,
      {
        description: 'The nodes of the managed node group',
        assumeRolePolicy: assumableBy('ec2.amazonaws.com'),
      },
      parent,
    );
    const nodePolicies = NODE_POLICIES.map(
      (policy) =>
        new aws.iam.RolePolicyAttachment(
          `${name}-node-${policy}`,
          { role: nodeRole.name, policyArn: `arn:aws:iam::aws:policy/${policy}` },
          parent,
        ),
    );
    const access = new ClusterAccess(
      `${name}-access`,
      {
        cluster: this.cluster,
        clusterResourceName: `${name}-eks`,
        clusterName: args.clusterName,
        admins: args.admins,
        creator,
      },
      parent,
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
            ebs: {
              volumeType: 'gp3',
              volumeSize: args.nodeVolumeSizeGi,
              encrypted: 'true',
              deleteOnTermination: 'true',
            },
          },
        ],
        metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2, httpEndpoint: 'enabled' },
      },
      parent,
    );
    const nodeGroup = (suffix: string, subnetIds: pulumi.Input<string>[], size: number) =>
      new eks.ManagedNodeGroup(
        `${name}-${suffix}`,
        {
          cluster: this.cluster,
          nodeRole,
          amiType: 'AL2023_x86_64_STANDARD',
          instanceTypes: [args.instanceType],
          subnetIds,
          scalingConfig: { desiredSize: size, minSize: size, maxSize: size },
          launchTemplate: { id: launchTemplate.id, version: pulumi.interpolate`${launchTemplate.latestVersion}` },
        },
        { parent: this, dependsOn: nodePolicies },
      );
    // The database's disk lives in the first zone: one node always there, replaced there; the rest anywhere.
    const nodeGroups = [
      nodeGroup('data-nodes', [(subnets[0] as aws.ec2.Subnet).id], 1),
      ...(args.nodeCount > 1
        ? [
            nodeGroup(
              'nodes',
              subnets.map((subnet) => subnet.id),
              args.nodeCount - 1,
            ),
          ]
        : []),
    ];

    this.kubeconfig = pulumi.secret(this.cluster.kubeconfigJson);
    this.clusterName = this.cluster.eksCluster.name;
    // No profile: the state must serve a destroy run elsewhere; `aws eks get-token` reads AWS_PROFILE there.
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { kubeconfig: pulumi.secret(this.cluster.kubeconfigJson), ...PROVIDER_SETTINGS },
      { parent: this, dependsOn: access.entries },
    );

    const ebsCsiRole = new aws.iam.Role(
      `${name}-ebs-csi`,
      {
        description: 'The EBS CSI controller: creates, attaches and deletes the database volume',
        assumeRolePolicy: pulumi
          .all([this.cluster.oidcProviderArn, this.cluster.oidcProviderUrl])
          .apply(([providerArn, providerUrl]) => ebsCsiTrustPolicy(providerArn, providerUrl)),
      },
      parent,
    );
    const ebsCsiPolicy = new aws.iam.RolePolicyAttachment(
      `${name}-ebs-csi`,
      { role: ebsCsiRole.name, policyArn: 'arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy' },
      parent,
    );
    const ebsCsi = new aws.eks.Addon(
      `${name}-ebs-csi`,
      {
        clusterName: this.clusterName,
        addonName: 'aws-ebs-csi-driver',
        serviceAccountRoleArn: ebsCsiRole.arn,
        resolveConflictsOnCreate: 'OVERWRITE',
        resolveConflictsOnUpdate: 'OVERWRITE',
      },
      { parent: this, dependsOn: [...nodeGroups, ebsCsiPolicy] },
    );
    const metricsServer = new aws.eks.Addon(
      `${name}-metrics-server`,
      { clusterName: this.clusterName, addonName: 'metrics-server', resolveConflictsOnCreate: 'OVERWRITE' },
      { parent: this, dependsOn: nodeGroups },
    );

    const storageClass = new k8s.storage.v1.StorageClass(
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
      { parent: this, provider: this.provider, dependsOn: [ebsCsi] },
    );

    this.storageClassName = storageClass.metadata.name;
    this.dataZone = zones.apply((names) => names[0] as string);
    this.ebsCsi = ebsCsi;
    this.snapshots = args.snapshots;
    this.addons = [ebsCsi, metricsServer, storageClass];
    this.registerOutputs({
      clusterName: this.clusterName,
      kubeconfig: this.kubeconfig,
      storageClassName: this.storageClassName,
    });
  }

  /** The stack's own gp3 encrypted EBS volume as a PersistentVolume for one claim. Pulumi deletes the disk itself
   * (after the pod, claim and PV, while the CSI driver can still detach it), or leaves only the disk when `keep`.
   * The provider snapshots it first (`finalSnapshot`, with the disk's tags); a new disk starts from `restoreFrom`. */
  public dataVolume(name: string, args: DataVolumeArgs): k8s.core.v1.PersistentVolume {
    const volume = new aws.ebs.Volume(
      `${name}-ebs`,
      {
        availabilityZone: this.dataZone,
        size: args.sizeGi,
        type: 'gp3',
        encrypted: true,
        snapshotId: this.snapshots.restoreFrom,
        finalSnapshot: true,
        tags: {
          Name: pulumi.interpolate`${args.namespace}/${args.claimName}`,
          'two-tier/claim': args.claimName,
          ...this.snapshots.tags,
        },
      },
      {
        parent: args.parent,
        retainOnDelete: args.keep,
        dependsOn: [this.ebsCsi, this.snapshots.prune],
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
                { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: [this.dataZone] }] },
              ],
            },
          },
        },
      },
      { parent: args.parent, provider: this.provider, dependsOn: [volume, this.ebsCsi] },
    );
  }
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
