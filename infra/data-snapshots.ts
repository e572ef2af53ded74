import * as aws from '@pulumi/aws';
import * as command from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';
import type { DbEngine } from './database/engines';
import { assumableBy } from './iam';

/** Where a new data disk starts from: the newest snapshot of its stack and engine, a named one, or nothing. */
export type SnapshotSource = 'newest' | 'none' | `snap-${string}`;

export interface DataSnapshotsArgs {
  /** The stack the disk belongs to; its snapshots, final and daily, carry it as a tag. */
  readonly stack: string;
  /** The engine whose data the disk holds; its snapshots carry it as a tag too. */
  readonly engine: DbEngine;
  /** What a disk created by this `up` starts from; a disk that exists already is never replaced. */
  readonly source: SnapshotSource;
  /** Snapshots kept per stack and engine: the daily schedule keeps this many, and destroy prunes to it. */
  readonly keep: number;
  /** The provider's region, for the AWS CLI that prunes at destroy. */
  readonly region?: string;
}

const SNAPSHOT_TAGS = { stack: 'two-tier/stack', engine: 'two-tier/engine' } as const;
const DLM_POLICY = 'arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole';
/** 13:00 UTC is 18:30 in Mumbai: while a stack that the 20:00 IST workflow destroys is still up. */
const DAILY_AT = '13:00';

/**
 * Runs at destroy, after the disk's final snapshot (the disk depends on it): deletes the completed
 * snapshots of the stack and engine beyond the newest $KEEP, never $PINNED, acting in the stack's $ACCOUNT only
 * (its identity comes from the environment, AWS_PROFILE on a laptop: a profile kept in the state would break a
 * destroy elsewhere). It never fails the destroy: without the AWS CLI, the account or its permissions it says
 * what it left, and the next destroy tries again.
 */
const PRUNE_SCRIPT = `set -u
kept="snapshots of $STACK/$ENGINE beyond the newest $KEEP were kept"
if ! command -v aws >/dev/null 2>&1; then
  echo "two-tier: no AWS CLI here: $kept" >&2
  exit 0
fi
if ! account=$(aws sts get-caller-identity --query Account --output text); then
  echo "two-tier: the AWS CLI here has no working credentials: $kept" >&2
  exit 0
fi
if [ "$account" != "$ACCOUNT" ]; then
  echo "two-tier: the AWS CLI here acts in account $account, not the stack's $ACCOUNT (export AWS_PROFILE as for pulumi): $kept" >&2
  exit 0
fi
if ! list=$(aws ec2 describe-snapshots --owner-ids self \\
  --filters "Name=tag:${SNAPSHOT_TAGS.stack},Values=$STACK" "Name=tag:${SNAPSHOT_TAGS.engine},Values=$ENGINE" Name=status,Values=completed \\
  --query 'Snapshots[].[StartTime,SnapshotId]' --output text); then
  echo "two-tier: could not list the snapshots of $STACK/$ENGINE; none was deleted" >&2
  exit 0
fi
printf '%s\\n' "$list" | sort -r | tail -n +$((KEEP + 1)) | while read -r started id; do
  if [ -z "$id" ] || [ "$id" = "$PINNED" ]; then continue; fi
  if aws ec2 delete-snapshot --snapshot-id "$id"; then
    echo "two-tier: deleted $id of $STACK/$ENGINE, taken $started"
  else
    echo "two-tier: could not delete $id of $STACK/$ENGINE; it stays" >&2
  fi
done
exit 0
`;

/**
 * The copies of the eks data disk that outlive the stack: the tags that name its stack and engine (the
 * disk's final snapshot at destroy takes them over), the snapshot a new disk starts from, a daily
 * schedule by Amazon Data Lifecycle Manager with its role, and the prune that bounds what destroy leaves.
 * Destroy removes the schedule, its role and the prune; snapshots are never Pulumi resources, so they stay.
 */
export class DataSnapshots extends pulumi.ComponentResource {
  /** Tags for the data disk. */
  public readonly tags: Record<string, string>;
  /** The snapshot a new disk is created from; undefined for an empty disk. */
  public readonly restoreFrom: pulumi.Output<string | undefined>;
  /** The disk depends on it, so its delete (the prune) runs after the disk's final snapshot. */
  public readonly prune: command.local.Command;

  constructor(name: string, args: DataSnapshotsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:DataSnapshots', name, {}, opts);
    const parent = { parent: this };
    this.tags = { [SNAPSHOT_TAGS.stack]: args.stack, [SNAPSHOT_TAGS.engine]: args.engine };

    this.restoreFrom =
      args.source === 'newest'
        ? aws.ebs
            .getSnapshotIdsOutput(
              {
                owners: ['self'],
                filters: [
                  ...Object.entries(this.tags).map(([key, value]) => ({ name: `tag:${key}`, values: [value] })),
                  { name: 'status', values: ['completed'] },
                ],
              },
              parent,
            )
            // Newest first, as the provider sorts them.
            .ids.apply((ids) => ids[0])
        : pulumi.output(args.source === 'none' ? undefined : args.source);

    const role = new aws.iam.Role(
      `${name}-dlm`,
      {
        description: 'Amazon Data Lifecycle Manager: the daily snapshots of the database disk',
        assumeRolePolicy: assumableBy('dlm.amazonaws.com'),
      },
      parent,
    );
    const permissions = new aws.iam.RolePolicyAttachment(
      `${name}-dlm`,
      { role: role.name, policyArn: DLM_POLICY },
      parent,
    );
    new aws.dlm.LifecyclePolicy(
      `${name}-daily`,
      {
        // DLM allows letters, digits, spaces, hyphens and underscores only.
        description: `two-tier ${args.stack} daily snapshots of the database disk`,
        executionRoleArn: role.arn,
        state: 'ENABLED',
        policyDetails: {
          resourceTypes: ['VOLUME'],
          targetTags: { [SNAPSHOT_TAGS.stack]: args.stack },
          schedules: [
            {
              name: 'daily',
              createRule: { interval: 24, intervalUnit: 'HOURS', times: DAILY_AT },
              retainRule: { count: args.keep },
              // The disk's stack and engine tags, so a daily snapshot restores and prunes like a final one.
              copyTags: true,
              tagsToAdd: { 'two-tier/snapshot': 'daily' },
            },
          ],
        },
      },
      { parent: this, dependsOn: [permissions] },
    );

    this.prune = new command.local.Command(
      `${name}-prune-${args.engine}`,
      {
        delete: PRUNE_SCRIPT,
        environment: {
          STACK: args.stack,
          ENGINE: args.engine,
          KEEP: String(args.keep),
          PINNED: args.source.startsWith('snap-') ? args.source : '',
          ACCOUNT: aws.getCallerIdentityOutput({}, parent).accountId,
          ...(args.region ? { AWS_REGION: args.region } : {}),
        },
      },
      parent,
    );

    this.registerOutputs({ restoreFrom: this.restoreFrom });
  }
}
