import * as pulumi from '@pulumi/pulumi';
import type { SnapshotSource } from './data-snapshots';
import type { DomainSettings } from './web/https';

/** A config value outside its allowed set: one line at preview that names the key and the choices. */
export function oneOf<T extends string>(key: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new pulumi.RunError(
    `config two-tier:${key} must be one of ${allowed.join(', ')}; it is "${value}" (set it with: pulumi config set ${key} <value>)`,
  );
}

/** IAM role or user ARNs, each checked, so a typo fails the preview rather than the access entry at `up`. */
export function iamPrincipals(key: string, values: unknown): string[] {
  const list = Array.isArray(values) ? values : [values];
  for (const value of list) {
    if (typeof value !== 'string' || !/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/.test(value)) {
      throw new pulumi.RunError(
        `config two-tier:${key} must be a list of IAM role or user ARNs (arn:aws:iam::<account>:role/<name>); "${String(value)}" is not one`,
      );
    }
  }
  return list as string[];
}

/** A whole number config value within bounds. */
export function between(key: string, value: number, min: number, max: number): number {
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  throw new pulumi.RunError(`config two-tier:${key} must be a whole number from ${min} to ${max}; it is ${value}`);
}

/** Where a new data disk starts from: `newest`, `none`, or an EBS snapshot id (snap- and 8 or 17 hex digits). */
export function snapshotSource(key: string, value: string): SnapshotSource {
  if (value === 'newest' || value === 'none' || /^snap-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(value)) {
    return value as SnapshotSource;
  }
  throw new pulumi.RunError(
    `config two-tier:${key} must be newest, none or a snapshot id (snap-0123456789abcdef0); it is "${value}" (set it with: pulumi config set ${key} <value>)`,
  );
}

/** A Kubernetes namespace name: an RFC 1123 label (lowercase letters, digits and inner hyphens, 63 at most). */
export function namespaceName(key: string, value: string): string {
  if (/^(?=.{1,63}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(value)) return value;
  throw new pulumi.RunError(
    `config two-tier:${key} must be a namespace name (lowercase letters, digits and inner hyphens, 63 at most); it is "${value}" (set it with: pulumi config set ${key} <value>)`,
  );
}

const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REGISTRY = '[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?';
/** Docker's reference grammar: [registry/]path[:tag][@sha256:digest], the path in lowercase. */
const IMAGE_REFERENCE = new RegExp(
  `^(?:${REGISTRY}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::(?<tag>[\\w][\\w.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$`,
);

/** An image reference to deploy as it is: well formed, and pinned by a tag other than latest or by a digest. */
export function imageReference(key: string, value: string): string {
  const match = IMAGE_REFERENCE.exec(value);
  const problem = !match
    ? 'is not an image reference ([registry/]name[:tag][@sha256:digest], the name in lowercase)'
    : !match.groups?.tag && !match.groups?.digest
      ? 'has neither a tag nor a digest'
      : match.groups?.tag === 'latest' && !match.groups?.digest
        ? 'is :latest, which is not pinned'
        : '';
  if (!problem) return value;
  throw new pulumi.RunError(
    `config two-tier:${key} ${problem}; it is "${value}" (set it with: pulumi config set ${key} <registry/name:tag or @sha256:digest>)`,
  );
}

const PASSWORD_SYMBOLS = '!#$%&()*+,-./:;<=>?@[]^_`{|}~';
const PASSWORD = /^[A-Za-z0-9!#$%&()*+,\-./:;<=>?@[\]^_`{|}~]+$/;

/**
 * A password the official MySQL image can take on first boot: its entrypoint writes it unescaped into
 * SQL quotes and an option file, so a quote or a backslash breaks the boot for good. The message
 * never shows the value.
 */
export function databasePassword(key: string, value: string | undefined): string | undefined {
  if (value === undefined || PASSWORD.test(value)) return value;
  throw new pulumi.RunError(
    `config two-tier:${key} must be one or more letters, digits and these symbols: ${PASSWORD_SYMBOLS} (no spaces, quotes or backslashes: the MySQL image puts it into SQL unescaped on first boot); the value set is secret and not shown (set it with: pulumi config set --secret ${key} <password>)`,
  );
}

/**
 * The stack's `aws:profile`, if any, must be the environment's AWS_PROFILE: the Kubernetes provider's `aws eks
 * get-token` and the snapshot prune's AWS CLI read the environment, since a profile kept in the state would break
 * a destroy run on a machine without it.
 */
export function awsProfileInEnvironment(profile: string | undefined, environment: string | undefined): void {
  if (!profile || profile === environment) return;
  throw new pulumi.RunError(
    `config aws:profile is "${profile}" but AWS_PROFILE is ${environment ? `"${environment}"` : 'not set'}: ` +
      `the cluster's Kubernetes calls and the snapshot prune take their AWS identity from the environment, ` +
      `so run with: export AWS_PROFILE=${profile}`,
  );
}

/** An instance type of another's family (t3, m5): the node groups share one launch template and its CPU credit setting. */
export function ofFamily(key: string, value: string, of: string): string {
  const family = of.split('.')[0];
  if (value.startsWith(`${family}.`)) return value;
  throw new pulumi.RunError(
    `config two-tier:${key} must be of instanceType's family (${family}.*); it is "${value}" (leave it empty to have it picked)`,
  );
}

const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

/**
 * The web tier's own name and its Route 53 zone: the zone by id when one is set, else the domain's parent
 * (example.com for board.example.com) looked up by name. Undefined when no domain is set.
 */
export function domainSettings(domain: string, hostedZoneId: string): DomainSettings | undefined {
  if (!domain) {
    if (hostedZoneId) throw new pulumi.RunError('config two-tier:hostedZoneId is set but two-tier:domain is not');
    return undefined;
  }
  if (!HOSTNAME.test(domain)) {
    throw new pulumi.RunError(
      `config two-tier:domain must be a lowercase DNS name such as board.example.com; it is "${domain}" (set it with: pulumi config set domain <name>)`,
    );
  }
  if (hostedZoneId) {
    if (!/^Z[A-Z0-9]{1,31}$/.test(hostedZoneId)) {
      throw new pulumi.RunError(
        `config two-tier:hostedZoneId must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ; it is "${hostedZoneId}"`,
      );
    }
    return { name: domain, zone: { id: hostedZoneId } };
  }
  const parent = domain.slice(domain.indexOf('.') + 1);
  if (!parent.includes('.')) {
    throw new pulumi.RunError(
      `config two-tier:domain ${domain} has no parent zone to look up: set two-tier:hostedZoneId to its hosted zone`,
    );
  }
  return { name: domain, zone: { name: parent } };
}
