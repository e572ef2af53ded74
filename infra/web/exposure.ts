import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { objectMetadata, objectOptions, type TierObjects, tierLabels } from '../labels';
import { aliasRecord, type DomainSettings, validatedCertificate } from './https';
import { webIngress } from './ingress';

export type Exposure =
  | {
      /**
       * On EKS: an ALB of the AWS Load Balancer Controller with the pods as its targets. It appends each
       * client's address to X-Forwarded-For, and the pods believe that header from its subnets only.
       */
      readonly type: 'Alb';
      readonly trustedProxies: string[];
      /** HTTPS at this name; without it, the ALB's own hostname over HTTP. */
      readonly domain?: DomainSettings;
    }
  | { readonly type: 'LoadBalancer' }
  | { readonly type: 'NodePort'; readonly nodePort: number; readonly host: string };

export interface WebExposureArgs {
  /** An ALB (eks), a cloud load balancer (port 80), or a NodePort on a local cluster. */
  readonly exposure: Exposure;
  /** The web pods' Deployment: the Service is deleted before it. */
  readonly deployment: k8s.apps.v1.Deployment;
  /** What must outlive the Service and Ingress (the cluster's add-ons, so the controller can remove the load balancer). */
  readonly dependsOn?: pulumi.Resource[];
}

export interface WebExposure {
  readonly service: k8s.core.v1.Service;
  /** What a person opens. */
  readonly url: pulumi.Output<string>;
}

/** The Service in front of the web pods, the ALB's Ingress on eks, and the address they give them. */
export function webExposure(tier: TierObjects, args: WebExposureArgs): WebExposure {
  const { exposure } = args;
  const labels = tierLabels('web');
  const port = { name: 'http', port: 80, targetPort: 'http' };
  const service = new k8s.core.v1.Service(
    `${tier.name}-service`,
    {
      metadata: objectMetadata(tier, 'web'),
      spec:
        exposure.type === 'NodePort'
          ? { type: 'NodePort', selector: labels, ports: [{ ...port, nodePort: exposure.nodePort }] }
          : // Behind the ALB the Service only lists the pods: no node opens a port for it.
            { type: exposure.type === 'Alb' ? 'ClusterIP' : 'LoadBalancer', selector: labels, ports: [port] },
    },
    // Deleted before the add-ons and the cluster, so a controller can still remove its load balancer.
    { ...objectOptions(tier), dependsOn: [args.deployment, ...(args.dependsOn ?? [])] },
  );
  if (exposure.type === 'NodePort')
    return { service, url: pulumi.output(`http://${exposure.host}:${exposure.nodePort}`) };
  if (exposure.type === 'LoadBalancer') {
    return { service, url: service.status.loadBalancer.ingress.apply(urlOf) };
  }
  const https = exposure.domain ? validatedCertificate(tier, exposure.domain) : undefined;
  const ingress = webIngress(tier, {
    serviceName: service.metadata.name,
    certificateArn: https?.certificateArn,
    dependsOn: args.dependsOn,
  });
  if (!exposure.domain || !https) return { service, url: ingress.status.loadBalancer.ingress.apply(urlOf) };
  const record = aliasRecord(tier, {
    domain: exposure.domain.name,
    zoneId: https.zoneId,
    hostname: ingress.status.loadBalancer.ingress.apply((addresses) => addresses?.[0]?.hostname ?? ''),
  });
  return { service, url: pulumi.interpolate`https://${record.name}` };
}

/** The first address a load balancer reported, over HTTP. */
function urlOf(ingress: { hostname?: string; ip?: string }[] | undefined): string {
  const address = ingress?.[0]?.hostname ?? ingress?.[0]?.ip;
  return address ? `http://${address}` : 'the load balancer has no address yet';
}
