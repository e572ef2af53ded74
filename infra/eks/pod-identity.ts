import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';

/**
 * A role only EKS Pod Identity can hand to pods, through an association naming one service account
 * (EKS user guide, "Assign an IAM role to a Kubernetes service account"; the agent tags the session).
 */
export const POD_IDENTITY_TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: 'pods.eks.amazonaws.com' },
      Action: ['sts:AssumeRole', 'sts:TagSession'],
    },
  ],
});

/** The agent's DaemonSet: one host-network pod a node, which still takes one of the node's pod slots. */
export const POD_IDENTITY_AGENT = { name: 'eks-pod-identity-agent', podsPerNode: 1 } as const;

export interface PodIdentityAgentArgs {
  /** The cluster's name, as EKS knows it. */
  readonly clusterName: pulumi.Input<string>;
  /** Its pods need nodes: created after these, deleted before them. */
  readonly nodeGroups: pulumi.Resource[];
}

/**
 * The EKS Pod Identity agent add-on: the one way this cluster gives pods AWS credentials (no IRSA, no keys).
 * Credentials are injected when a pod is created, so every pod that uses them must start after it.
 */
export function podIdentityAgent(name: string, args: PodIdentityAgentArgs, parent: pulumi.Resource): aws.eks.Addon {
  return new aws.eks.Addon(
    `${name}-pod-identity-agent`,
    {
      clusterName: args.clusterName,
      addonName: POD_IDENTITY_AGENT.name,
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'OVERWRITE',
    },
    { parent, dependsOn: args.nodeGroups },
  );
}
