import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { objectMetadata, objectOptions, type TierObjects, tierLabels } from '../labels';

export type Exposure =
  | {
      readonly type: 'LoadBalancer';
      /**
       * On EKS, the VPC's range: the Classic ELB speaks HTTP to the nodes, so it appends each client's
       * address to X-Forwarded-For, and the pods believe that header from this range only.
       */
      readonly awsVpcCidr?: string;
    }
  | { readonly type: 'NodePort'; readonly nodePort: number; readonly host: string };

/** The in-tree AWS controller's annotation that makes the Classic ELB's listener HTTP instead of TCP. */
const AWS_BACKEND_PROTOCOL = 'service.beta.kubernetes.io/aws-load-balancer-backend-protocol';

export interface WebExposureArgs {
  /** A cloud load balancer (port 80), or a NodePort on a local cluster. */
  readonly exposure: Exposure;
  /** The web pods' Deployment: the Service is deleted before it. */
  readonly deployment: k8s.apps.v1.Deployment;
  /** What must outlive the Service (the cluster's add-ons, so the controller can remove the load balancer). */
  readonly dependsOn?: pulumi.Resource[];
}

export interface WebExposure {
  readonly service: k8s.core.v1.Service;
  /** What a person opens. */
  readonly url: pulumi.Output<string>;
}

/** The Service in front of the web pods and the address it gives them. */
export function webExposure(tier: TierObjects, args: WebExposureArgs): WebExposure {
  const { exposure } = args;
  const labels = tierLabels('web');
  const service = new k8s.core.v1.Service(
    `${tier.name}-service`,
    {
      metadata: {
        ...objectMetadata(tier, 'web'),
        ...(exposure.type === 'LoadBalancer' && exposure.awsVpcCidr
          ? { annotations: { [AWS_BACKEND_PROTOCOL]: 'http' } }
          : {}),
      },
      spec:
        exposure.type === 'LoadBalancer'
          ? { type: 'LoadBalancer', selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }
          : {
              type: 'NodePort',
              selector: labels,
              ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: exposure.nodePort }],
            },
    },
    // Deleted before the add-ons and the cluster, so the controller can still remove the load balancer.
    { ...objectOptions(tier), dependsOn: [args.deployment, ...(args.dependsOn ?? [])] },
  );
  const url =
    exposure.type === 'NodePort'
      ? pulumi.output(`http://${exposure.host}:${exposure.nodePort}`)
      : service.status.loadBalancer.ingress.apply((ingress) => {
          const address = ingress?.[0]?.hostname ?? ingress?.[0]?.ip;
          return address ? `http://${address}` : 'the load balancer has no address yet';
        });
  return { service, url };
}
