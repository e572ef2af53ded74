import * as aws from '@pulumi/aws';
import * as eks from '@pulumi/eks';
import type * as pulumi from '@pulumi/pulumi';
import type { EksSupportType } from '../cost';
import { CREATED_BY_TAG } from './access';
import type { EksNetwork } from './network';

export interface ControlPlaneArgs {
  /** The EKS cluster's name; also names its log group, so destroy can remove that too. */
  readonly clusterName: string;
  /** The pinned Kubernetes version, e.g. "1.35". */
  readonly kubernetesVersion: string;
  /** What EKS does when the version leaves standard support. */
  readonly supportType: EksSupportType;
  /** Whether the api, audit and authenticator logs go to CloudWatch, kept 7 days. */
  readonly controlPlaneLogs: boolean;
  /** The VPC and subnets the cluster runs in. */
  readonly network: EksNetwork;
  /** Who created the cluster (`clusterCreator`): recorded in its tag. */
  readonly creator: pulumi.Output<string | undefined>;
}

/**
 * The EKS control plane, authenticated by API access entries (pods take AWS roles through EKS Pod
 * Identity, so it has no OIDC provider), and its log group when it logs. `name` is the owning component's, the parent of both.
 */
export function controlPlane(name: string, args: ControlPlaneArgs, parent: pulumi.Resource): eks.Cluster {
  // EKS would create this group itself and leave it behind after destroy; created here, destroy removes it.
  const logGroup = args.controlPlaneLogs
    ? new aws.cloudwatch.LogGroup(
        `${name}-control-plane`,
        { name: `/aws/eks/${args.clusterName}/cluster`, retentionInDays: 7 },
        { parent },
      )
    : undefined;
  return new eks.Cluster(
    `${name}-eks`,
    {
      name: args.clusterName,
      version: args.kubernetesVersion,
      // EKS's default is EXTENDED: a version past its 14 months would silently bill $0.60 an hour, not $0.10.
      upgradePolicy: { supportType: args.supportType },
      vpcId: args.network.vpc.id,
      publicSubnetIds: args.network.subnets.map((subnet) => subnet.id),
      // The nodes are the managed node groups (node-groups.ts): they roll on AMI or type changes, on gp3 root volumes.
      skipDefaultNodeGroup: true,
      // Without it the VPC CNI ignores NetworkPolicies, and any pod could reach the database.
      vpcCniOptions: { enableNetworkPolicy: true },
      authenticationMode: eks.AuthenticationMode.Api,
      // EKS gives the creator an admin entry; the tag keeps who that was for every later `up`.
      clusterTags: args.creator.apply((arn): Record<string, string> => (arn ? { [CREATED_BY_TAG]: arn } : {})),
      createOidcProvider: false,
      enabledClusterLogTypes: args.controlPlaneLogs ? ['api', 'audit', 'authenticator'] : [],
      // Given, so @pulumi/eks keeps AWS_PROFILE or aws:profile out of its internal provider's kubeconfig (state);
      // the program's own provider uses kubeconfigJson, which never carries one.
      providerCredentialOpts: {},
    },
    // Destroy removes the nodes and everything on them while they still reach the internet and the API endpoint.
    { parent, dependsOn: [...args.network.resources, ...(logGroup ? [logGroup] : [])] },
  );
}
