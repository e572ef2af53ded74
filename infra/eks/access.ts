import * as aws from '@pulumi/aws';
import type * as eks from '@pulumi/eks';
import * as pulumi from '@pulumi/pulumi';

/** The cluster's tag that records who created it: EKS gave that identity its access entry itself. */
export const CREATED_BY_TAG = 'two-tier/created-by';

const CLUSTER_ADMIN_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';

/**
 * Who created the cluster: its tag once it exists, or, before, whoever runs this `up` (an assumed-role
 * session resolves to its role, the principal EKS gives the entry to). Undefined for a cluster
 * created before the tag, whose creator is unknown.
 */
export function clusterCreator(clusterName: string, opts: pulumi.InvokeOptions): pulumi.Output<string | undefined> {
  return aws.eks.getClustersOutput({}, opts).names.apply(async (names) => {
    if (names.includes(clusterName)) {
      return (await aws.eks.getCluster({ name: clusterName }, opts)).tags?.[CREATED_BY_TAG];
    }
    const caller = await aws.getCallerIdentity({}, opts);
    return (await aws.iam.getSessionContext({ arn: caller.arn }, opts)).issuerArn;
  });
}

/**
 * An IAM role or user as EKS matches principals: its account, kind and name. The path is not part of it
 * (IAM names are unique in an account whatever their path, and regardless of case), and STS answers a
 * role session with its path (SSO roles live under aws-reserved/sso.amazonaws.com/...) while a
 * `clusterAdmins` entry may leave it out.
 */
export function principalOf(arn: string): string {
  const match = /^(arn:[^:]+:iam::\d{12}:(?:role|user))\/(?:[^/]*\/)*([^/]+)$/.exec(arn);
  return match ? `${match[1]}/${(match[2] as string).toLowerCase()}` : arn;
}

export interface ClusterAccessArgs {
  /** The cluster the entries admit to. */
  readonly cluster: eks.Cluster;
  /** The eks component's resource name: it named the entries when it made them, and they keep those names. */
  readonly clusterResourceName: string;
  /** Its name, as EKS knows it. */
  readonly clusterName: string;
  /** IAM role or user ARNs given cluster-admin access. */
  readonly admins: string[];
  /** The identity EKS already gave an entry when it created the cluster (`clusterCreator`). */
  readonly creator: pulumi.Output<string | undefined>;
}

/**
 * A cluster-admin access entry for each administrator except the cluster's creator: EKS made that one
 * (@pulumi/eks always bootstraps the creator's admin access in API mode), and a second is a 409 that
 * stops `up` half-way. The creator is read from the cluster, so the answer does not depend on who runs
 * `up`, and no `up` removes the entry of whoever runs it.
 */
export class ClusterAccess extends pulumi.ComponentResource {
  /**
   * The entries and their policy associations, once it is known whose to make: the Kubernetes provider
   * depends on both, so destroy removes every Kubernetes object before anyone's access goes.
   */
  public readonly grants: pulumi.Output<pulumi.Resource[]>;

  constructor(name: string, args: ClusterAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:ClusterAccess', name, {}, opts);
    this.grants = args.creator.apply((creator) => {
      // EKS refuses a second entry for a principal however its ARN is written: one for each, none for the creator.
      const granted = new Set(creator ? [principalOf(creator)] : []);
      return args.admins.flatMap((principalArn, index) => {
        const principal = principalOf(principalArn);
        if (granted.has(principal)) return [];
        granted.add(principal);
        return this.grant(`${args.clusterResourceName}-admin-${index}`, principalArn, args);
      });
    });
    this.registerOutputs({ grants: this.grants });
  }

  private grant(name: string, principalArn: string, args: ClusterAccessArgs): pulumi.Resource[] {
    const entry = new aws.eks.AccessEntry(
      name,
      { clusterName: args.clusterName, principalArn },
      // The name and parent it had when the eks component made it: moved, not deleted and recreated.
      { parent: this, dependsOn: [args.cluster], aliases: [{ parent: args.cluster }] },
    );
    const association = new aws.eks.AccessPolicyAssociation(
      `${name}-admin`,
      {
        clusterName: args.clusterName,
        principalArn,
        policyArn: CLUSTER_ADMIN_POLICY,
        accessScope: { type: 'cluster' },
      },
      { parent: entry, dependsOn: [entry] },
    );
    return [entry, association];
  }
}
