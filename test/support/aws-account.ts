import type { LogGroup } from '@aws-sdk/client-cloudwatch-logs';
import type { NetworkInterface, SecurityGroup, Snapshot, Tag, Volume, Vpc } from '@aws-sdk/client-ec2';
import type { Repository } from '@aws-sdk/client-ecr';
import type { LoadBalancerDescription } from '@aws-sdk/client-elastic-load-balancing';
import type { ResourceTagMapping, TagFilter } from '@aws-sdk/client-resource-groups-tagging-api';

/** What the account holds in one region, as the describe calls return it. */
export interface AccountState {
  vpcs: Vpc[];
  networkInterfaces: NetworkInterface[];
  securityGroups: SecurityGroup[];
  volumes: Volume[];
  /** Every snapshot the region can see: the account's own (OwnerId) and public ones of others. */
  snapshots: Snapshot[];
  loadBalancers: Array<{ description: LoadBalancerDescription; tags: Tag[] }>;
  logGroups: LogGroup[];
  repositories: Repository[];
  /** What the Resource Groups Tagging API indexes: every tagged ALB, target group, security group, ... by ARN. */
  taggedResources: ResourceTagMapping[];
}

export const ACCOUNT_ID = '123456789012';

class AwsError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface Filter {
  Name?: string;
  Values?: string[];
}

/** EC2's filters: ANDed, each one's values ORed; a filter EC2 would not know here is an error, not a match. */
function matches(item: { Tags?: Tag[]; VpcId?: string }, filters: Filter[] = []): boolean {
  return filters.every(({ Name = '', Values = [] }) => {
    if (Name.startsWith('tag:')) {
      const key = Name.slice('tag:'.length);
      return (item.Tags ?? []).some((tag) => tag.Key === key && Values.includes(tag.Value ?? ''));
    }
    if (Name === 'tag-key') return (item.Tags ?? []).some((tag) => Values.includes(tag.Key ?? ''));
    if (Name === 'vpc-id') return Values.includes(item.VpcId ?? '');
    throw new AwsError('InvalidParameterValue', `The filter '${Name}' is invalid (the fake account does not know it)`);
  });
}

/**
 * The AWS APIs the leftovers command calls, answered from `state` as AWS answers them: at most `pageSize` items a
 * page with an opaque token for the rest (AWS may return fewer than asked), a token valid only for the request that
 * made it, each API's bounds on page sizes, and DescribeTags' limit of 20 names.
 */
export class FakeAccount {
  /** Every call made, as `Command input-as-JSON`. */
  public readonly calls: string[] = [];

  constructor(
    private readonly state: AccountState,
    private readonly pageSize = 2,
  ) {}

  /** Makes `client` answer from this account: the middleware runs before signing, so nothing leaves the process. */
  public serve<Client extends { middlewareStack: { add: (...args: never[]) => void } }>(client: Client): Client {
    const add = client.middlewareStack.add as unknown as (
      middleware: (
        next: unknown,
        context: { commandName: string },
      ) => (args: { input: Record<string, unknown> }) => Promise<unknown>,
      options: { step: string; name: string; priority: string },
    ) => void;
    add.call(
      client.middlewareStack,
      (_next, context) => async (args) => ({
        output: { $metadata: { httpStatusCode: 200 }, ...this.answer(context.commandName, args.input) },
        response: {},
      }),
      { step: 'initialize', name: 'fakeAccount', priority: 'high' },
    );
    return client;
  }

  private answer(command: string, input: Record<string, unknown>): Record<string, unknown> {
    this.calls.push(`${command} ${JSON.stringify(input)}`);
    const filters = input.Filters as Filter[] | undefined;
    switch (command) {
      case 'DescribeVpcsCommand':
        return this.ec2Page(
          command,
          input,
          'Vpcs',
          this.state.vpcs.filter((v) => matches(v, filters)),
        );
      case 'DescribeNetworkInterfacesCommand':
        return this.ec2Page(
          command,
          input,
          'NetworkInterfaces',
          this.state.networkInterfaces.filter((eni) => matches({ ...eni, Tags: eni.TagSet }, filters)),
        );
      case 'DescribeSecurityGroupsCommand':
        return this.ec2Page(
          command,
          input,
          'SecurityGroups',
          this.state.securityGroups.filter((group) => matches(group, filters)),
        );
      case 'DescribeVolumesCommand':
        return this.ec2Page(
          command,
          input,
          'Volumes',
          this.state.volumes.filter((volume) => matches(volume, filters)),
          500,
        );
      case 'DescribeSnapshotsCommand': {
        const owners = (input.OwnerIds as string[] | undefined) ?? [];
        const visible = this.state.snapshots.filter(
          (snapshot) =>
            owners.length === 0 || owners.some((owner) => (owner === 'self' ? ACCOUNT_ID : owner) === snapshot.OwnerId),
        );
        return this.ec2Page(
          command,
          input,
          'Snapshots',
          visible.filter((snapshot) => matches(snapshot, filters)),
        );
      }
      case 'DescribeLoadBalancersCommand':
        return this.page(
          command,
          input,
          'Marker',
          'PageSize',
          [1, 400],
          'LoadBalancerDescriptions',
          this.state.loadBalancers.map((lb) => lb.description),
          'NextMarker',
        );
      case 'DescribeTagsCommand': {
        const names = (input.LoadBalancerNames as string[] | undefined) ?? [];
        if (names.length < 1 || names.length > 20) {
          throw new AwsError(
            'ValidationError',
            "1 validation error detected: Value at 'loadBalancerNames' failed to satisfy constraint: Member must have length less than or equal to 20",
          );
        }
        return {
          TagDescriptions: names.map((name) => {
            const found = this.state.loadBalancers.find((lb) => lb.description.LoadBalancerName === name);
            if (!found) throw new AwsError('LoadBalancerNotFound', `There is no ACTIVE Load Balancer named '${name}'`);
            return { LoadBalancerName: name, Tags: found.tags };
          }),
        };
      }
      case 'DescribeLogGroupsCommand': {
        const prefix = (input.logGroupNamePrefix as string | undefined) ?? '';
        return this.page(
          command,
          input,
          'nextToken',
          'limit',
          [1, 50],
          'logGroups',
          this.state.logGroups.filter((group) => group.logGroupName?.startsWith(prefix)),
        );
      }
      case 'GetResourcesCommand': {
        // Each filter names a key and, optionally, the values it may have; a resource must match every filter.
        const tagFilters = (input.TagFilters as TagFilter[] | undefined) ?? [];
        const found = this.state.taggedResources.filter((resource) =>
          tagFilters.every(({ Key, Values = [] }) =>
            (resource.Tags ?? []).some(
              (tag) => tag.Key === Key && (Values.length === 0 || Values.includes(tag.Value ?? '')),
            ),
          ),
        );
        // The last page carries an empty token, not none.
        return {
          PaginationToken: '',
          ...this.page(
            command,
            input,
            'PaginationToken',
            'ResourcesPerPage',
            [1, 100],
            'ResourceTagMappingList',
            found,
          ),
        };
      }
      case 'DescribeRepositoriesCommand':
        return this.page(command, input, 'nextToken', 'maxResults', [1, 1000], 'repositories', this.state.repositories);
      default:
        throw new AwsError('UnknownOperation', `the fake account does not answer ${command}`);
    }
  }

  /** EC2's describe calls: NextToken and MaxResults, at least 5 a page. */
  private ec2Page(
    command: string,
    input: Record<string, unknown>,
    itemsKey: string,
    items: unknown[],
    max = 1000,
  ): Record<string, unknown> {
    return this.page(command, input, 'NextToken', 'MaxResults', [5, max], itemsKey, items);
  }

  private page(
    command: string,
    input: Record<string, unknown>,
    tokenIn: string,
    sizeIn: string,
    [min, max]: [number, number],
    itemsKey: string,
    items: unknown[],
    tokenOut = tokenIn,
  ): Record<string, unknown> {
    const size = input[sizeIn] as number | undefined;
    if (size !== undefined && (size < min || size > max)) {
      throw new AwsError('InvalidParameterValue', `${sizeIn} must be between ${min} and ${max}; it is ${size}`);
    }
    const { [tokenIn]: token, [sizeIn]: _size, ...request } = input;
    const key = `${command} ${JSON.stringify(request)}`;
    let start = 0;
    if (token !== undefined) {
      const decoded = JSON.parse(Buffer.from(String(token), 'base64').toString('utf8')) as {
        key: string;
        start: number;
      };
      if (decoded.key !== key) throw new AwsError('InvalidNextToken', 'The token is not valid for this request');
      start = decoded.start;
    }
    const end = start + Math.min(size ?? Number.POSITIVE_INFINITY, this.pageSize);
    return {
      [itemsKey]: items.slice(start, end),
      ...(end < items.length
        ? { [tokenOut]: Buffer.from(JSON.stringify({ key, start: end })).toString('base64') }
        : {}),
    };
  }
}
