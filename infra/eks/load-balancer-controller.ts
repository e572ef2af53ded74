import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import IAM_POLICY from './load-balancer-controller-iam-policy.json';
import { POD_IDENTITY_TRUST_POLICY } from './pod-identity';

/** The AWS Load Balancer Controller's Helm chart, pinned: chart 3.5.0 is controller v3.5.0 (aws/eks-charts). */
export const CONTROLLER_CHART = {
  chart: 'aws-load-balancer-controller',
  version: '3.5.0',
  repo: 'https://aws.github.io/eks-charts',
} as const;
/** Its service account in kube-system: the Pod Identity association names it exactly. */
export const CONTROLLER_SERVICE_ACCOUNT = 'aws-load-balancer-controller';
export const CONTROLLER_NAMESPACE = 'kube-system';
/**
 * One replica, preferring a node other than the database's: on 2 x t3.small a second would take a pod slot
 * the web tier needs (infra/capacity.ts). While it restarts, the ALB keeps serving; only changes to it wait.
 */
export const CONTROLLER_REPLICAS = 1;
/** The requests and limits of the controller's own bundle (config/controller/controller.yaml @v3.5.0). */
export const CONTROLLER_RESOURCES = {
  requests: { cpu: '100m', memory: '200Mi' },
  limits: { cpu: '200m', memory: '500Mi' },
} as const;
/** TLS 1.2 and 1.3 with restricted ciphers and post-quantum key exchange: the ELB console's default since 2025-09. */
export const TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09';
/** The IngressClass the chart creates, whose controller is ingress.k8s.aws/alb. */
export const INGRESS_CLASS = 'alb';

export interface LoadBalancerControllerArgs {
  /** The cluster's name, as EKS knows it: the controller tags what it creates with it. */
  readonly clusterName: pulumi.Input<string>;
  /** The cluster's VPC and region, given so the controller needs no instance metadata. */
  readonly vpcId: pulumi.Input<string>;
  readonly region: string;
  /** The stack's name: a tag on every AWS resource the controller creates, so leftovers can be found. */
  readonly stack: string;
  /** The cluster's Kubernetes provider. */
  readonly provider: k8s.Provider;
  /** The database's node group, as EKS labels its nodes: the controller prefers the others, which have room. */
  readonly dataNodeGroupName: pulumi.Input<string>;
  /** The Pod Identity agent: the controller's pods get their credentials at creation, so after it. */
  readonly podIdentityAgent: aws.eks.Addon;
}

/**
 * The AWS Load Balancer Controller: its IAM policy as the controller documents it for the pinned version
 * (docs/install/iam_policy.json at tag v3.5.0, commit 11eb202c, in kubernetes-sigs/aws-load-balancer-controller,
 * kept verbatim in load-balancer-controller-iam-policy.json), its role through EKS Pod Identity, and its chart.
 */
export function loadBalancerController(
  name: string,
  args: LoadBalancerControllerArgs,
  parent: pulumi.Resource,
): k8s.helm.v3.Release {
  const role = new aws.iam.Role(
    `${name}-load-balancer-controller`,
    {
      description: 'The AWS Load Balancer Controller: the ALB, its listeners, target groups and security groups',
      assumeRolePolicy: POD_IDENTITY_TRUST_POLICY,
    },
    { parent },
  );
  const policy = new aws.iam.Policy(
    `${name}-load-balancer-controller`,
    {
      description: 'AWS Load Balancer Controller v3.5.0, as documented in its docs/install/iam_policy.json',
      policy: JSON.stringify(IAM_POLICY),
    },
    { parent },
  );
  const attachment = new aws.iam.RolePolicyAttachment(
    `${name}-load-balancer-controller`,
    { role: role.name, policyArn: policy.arn },
    { parent },
  );
  const association = new aws.eks.PodIdentityAssociation(
    `${name}-load-balancer-controller`,
    {
      clusterName: args.clusterName,
      namespace: CONTROLLER_NAMESPACE,
      serviceAccount: CONTROLLER_SERVICE_ACCOUNT,
      roleArn: role.arn,
    },
    { parent, dependsOn: [attachment] },
  );
  return new k8s.helm.v3.Release(
    `${name}-load-balancer-controller`,
    {
      name: CONTROLLER_CHART.chart,
      chart: CONTROLLER_CHART.chart,
      version: CONTROLLER_CHART.version,
      repositoryOpts: { repo: CONTROLLER_CHART.repo },
      namespace: CONTROLLER_NAMESPACE,
      // A failed install or upgrade rolls back rather than leave a half-configured webhook in the cluster.
      atomic: true,
      cleanupOnFail: true,
      values: {
        clusterName: args.clusterName,
        region: args.region,
        vpcId: args.vpcId,
        serviceAccount: { create: true, name: CONTROLLER_SERVICE_ACCOUNT, annotations: {} },
        replicaCount: CONTROLLER_REPLICAS,
        resources: CONTROLLER_RESOURCES,
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 100,
                preference: {
                  matchExpressions: [
                    { key: 'eks.amazonaws.com/nodegroup', operator: 'NotIn', values: [args.dataNodeGroupName] },
                  ],
                },
              },
            ],
          },
        },
        // Its default puts a failurePolicy: Fail webhook on every Service created in the cluster.
        enableServiceMutatorWebhook: false,
        // Otherwise each upgrade makes a new webhook CA under running pods.
        keepTLSSecret: true,
        defaultSSLPolicy: TLS_POLICY,
        defaultTargetType: 'ip',
        defaultTags: { 'two-tier/stack': args.stack },
        enableShield: false,
        enableWaf: false,
        enableWafv2: false,
      },
    },
    { parent, provider: args.provider, dependsOn: [args.podIdentityAgent, association] },
  );
}
