import type * as eks from '@pulumi/eks';
import type * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { ClusterTarget, DataVolumeArgs } from './cluster';
import type { EksSupportType } from './cost';
import type { DataSnapshots } from './data-snapshots';
import { ClusterAccess, clusterCreator } from './eks/access';
import { eksAddons } from './eks/addons';
import { controlPlane } from './eks/control-plane';
import { loadBalancerController } from './eks/load-balancer-controller';
import { eksNetwork } from './eks/network';
import { nodeGroups } from './eks/node-groups';
import { podIdentityAgent } from './eks/pod-identity';
import { eksProvider } from './eks/provider';
import { type DataDiskSettings, dataVolume, storageClass } from './eks/storage';

export interface EksClusterArgs {
  /** The EKS cluster's name; also names its log group, so destroy can remove that too. */
  readonly clusterName: string;
  /** The stack's name and region: the load balancer controller tags what it creates with the one and runs in the other. */
  readonly stack: string;
  readonly region: string;
  /** The pinned Kubernetes version of the control plane, e.g. "1.35". */
  readonly kubernetesVersion: string;
  /** What EKS does when the version leaves standard support; the cost estimate reads the same value. */
  readonly supportType: EksSupportType;
  /** The node instance type, e.g. "t3.small". */
  readonly instanceType: string;
  /** The data node's type, of the same family: it holds both engines' database pods during an engine switch. */
  readonly dataInstanceType: string;
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

/**
 * An EKS cluster with what the seeds were missing: its own VPC with public subnets and no NAT gateway
 * (eks/network.ts), API authentication (eks/control-plane.ts, eks/access.ts), EKS Pod Identity
 * (eks/pod-identity.ts), the EBS CSI driver with its own IAM role and metrics-server (eks/addons.ts), the AWS
 * Load Balancer Controller (eks/load-balancer-controller.ts), and a default encrypted gp3 class that binds
 * where the pod lands (eks/storage.ts). Every resource's parent is this component.
 */
export class EksCluster extends pulumi.ComponentResource implements ClusterTarget {
  public readonly provider: k8s.Provider;
  public readonly storageClassName: pulumi.Output<string>;
  public readonly addons: pulumi.Resource[];
  public readonly clusterName: pulumi.Output<string>;
  /** Secret: the kubeconfig for kubectl. */
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly cluster: eks.Cluster;
  /** Where data disks are made and what attaches and snapshots them. */
  private readonly disk: DataDiskSettings;

  constructor(name: string, args: EksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:EksCluster', name, {}, opts);
    const network = eksNetwork(name, { clusterName: args.clusterName }, this);
    const creator = clusterCreator(args.clusterName, { parent: this });
    this.cluster = controlPlane(name, { ...args, network, creator }, this);
    this.clusterName = this.cluster.eksCluster.name;
    const nodes = nodeGroups(name, { ...args, cluster: this.cluster, subnets: network.subnets }, this);
    const access = new ClusterAccess(
      `${name}-access`,
      {
        cluster: this.cluster,
        clusterResourceName: `${name}-eks`,
        clusterName: args.clusterName,
        admins: args.admins,
        creator,
      },
      { parent: this },
    );
    const { provider, kubeconfig } = eksProvider(name, { cluster: this.cluster, grants: access.grants }, this);
    this.provider = provider;
    this.kubeconfig = kubeconfig;
    const agent = podIdentityAgent(name, { clusterName: this.clusterName, nodeGroups: nodes }, this);
    const { ebsCsi, metricsServer } = eksAddons(
      name,
      { clusterName: this.clusterName, nodeGroups: nodes, podIdentityAgent: agent },
      this,
    );
    const controller = loadBalancerController(
      name,
      {
        clusterName: this.clusterName,
        vpcId: network.vpc.id,
        region: args.region,
        stack: args.stack,
        dataNodeGroupName: (nodes[0] as eks.ManagedNodeGroup).nodeGroup.nodeGroupName,
        provider,
        podIdentityAgent: agent,
      },
      this,
    );
    const gp3 = storageClass(name, { provider, csiDriver: ebsCsi }, this);

    this.storageClassName = gp3.metadata.name;
    this.disk = {
      provider,
      zone: network.zones.apply((zones) => zones[0] as string),
      csiDriver: ebsCsi,
      snapshots: args.snapshots,
    };
    // The tiers are deleted before these: the Ingress, and with it the ALB, while the controller still runs.
    this.addons = [ebsCsi, metricsServer, gp3, agent, controller];
    this.registerOutputs({
      clusterName: this.clusterName,
      kubeconfig: this.kubeconfig,
      storageClassName: this.storageClassName,
    });
  }

  /** The stack's own disk as a PersistentVolume for one claim (eks/storage.ts). */
  public dataVolume(name: string, args: DataVolumeArgs): k8s.core.v1.PersistentVolume {
    return dataVolume(name, args, this.disk);
  }
}
