import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { TierObjects } from '../labels';

/** A name of your own for the web tier, in an existing Route 53 public hosted zone: by id, or by name. */
export interface DomainSettings {
  /** The name people open, e.g. board.example.com. */
  readonly name: string;
  readonly zone: { readonly id: string } | { readonly name: string };
}

/** The hosted zone's id: as configured, or looked up by name among the account's public zones. */
function hostedZoneId(zone: DomainSettings['zone'], parent: pulumi.Resource): pulumi.Output<string> {
  return 'id' in zone
    ? pulumi.output(zone.id)
    : aws.route53.getZoneOutput({ name: zone.name, privateZone: false }, { parent }).zoneId;
}

export interface Https {
  readonly zoneId: pulumi.Output<string>;
  /** The certificate's ARN once ACM has issued it: a listener can use it from then on. */
  readonly certificateArn: pulumi.Output<string>;
}

/** An ACM certificate for the domain, validated by a DNS record in its zone, and waited for until issued. */
export function validatedCertificate(tier: TierObjects, domain: DomainSettings): Https {
  const opts = { parent: tier.parent };
  const zoneId = hostedZoneId(domain.zone, tier.parent);
  const certificate = new aws.acm.Certificate(
    `${tier.name}-certificate`,
    { domainName: domain.name, validationMethod: 'DNS' },
    opts,
  );
  const validation = certificate.domainValidationOptions.apply((options) => {
    const option = options.find((o) => o.domainName === domain.name);
    if (!option) throw new Error(`ACM gave no DNS validation record for ${domain.name}`);
    return option;
  });
  const record = new aws.route53.Record(
    `${tier.name}-certificate-validation`,
    {
      zoneId,
      name: validation.resourceRecordName,
      type: validation.resourceRecordType,
      records: [validation.resourceRecordValue],
      ttl: 300,
      // ACM gives the same record for the name every time: a certificate made again finds it there.
      allowOverwrite: true,
    },
    opts,
  );
  const issued = new aws.acm.CertificateValidation(
    `${tier.name}-certificate`,
    { certificateArn: certificate.arn, validationRecordFqdns: [record.fqdn] },
    opts,
  );
  return { zoneId, certificateArn: issued.certificateArn };
}

/** The domain's A record: an alias to the ALB, answered by Route 53 at no charge per query. */
export function aliasRecord(
  tier: TierObjects,
  args: { domain: string; zoneId: pulumi.Input<string>; hostname: pulumi.Input<string> },
): aws.route53.Record {
  const albZone = aws.lb.getHostedZoneIdOutput({ loadBalancerType: 'application' }, { parent: tier.parent });
  return new aws.route53.Record(
    `${tier.name}-domain`,
    {
      zoneId: args.zoneId,
      name: args.domain,
      type: 'A',
      aliases: [{ name: args.hostname, zoneId: albZone.id, evaluateTargetHealth: true }],
    },
    { parent: tier.parent },
  );
}
