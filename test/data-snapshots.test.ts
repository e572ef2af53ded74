import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ofType, one, type ProgramRun, runProgram } from './support/program';
import type { MockSnapshot } from './support/program-mocks';

const run = promisify(execFile);
const VOLUME = 'aws:ebs/volume:Volume';
const PRUNE = 'command:local:Command';
const POLICY = 'aws:dlm/lifecyclePolicy:LifecyclePolicy';

const snapshot = (id: string, startTime: string, tags: Record<string, string>, state = 'completed') =>
  ({ id, startTime, state, tags }) as MockSnapshot;
const ours = (engine: string) => ({ 'two-tier/stack': 'eks', 'two-tier/engine': engine });

/** Last night's final snapshots and the ones a newest-first search must pass over. */
const ACCOUNT = [
  snapshot('snap-0000000000000a001', '2026-11-20T14:40:00.000Z', ours('mysql')),
  snapshot('snap-0000000000000a002', '2026-11-21T14:40:00.000Z', ours('mysql')),
  snapshot('snap-0000000000000b001', '2026-11-21T14:41:00.000Z', ours('mongodb')),
  snapshot('snap-0000000000000c001', '2026-11-22T09:00:00.000Z', {
    'two-tier/stack': 'staging',
    'two-tier/engine': 'mysql',
  }),
  snapshot('snap-0000000000000d001', '2026-11-22T10:00:00.000Z', ours('mysql'), 'pending'),
  snapshot('snap-0000000000000e001', '2026-11-22T11:00:00.000Z', { 'two-tier/engine': 'mysql' }),
];

const withSnapshots = (snapshots: MockSnapshot[]) => ({ MOCK_EBS_SNAPSHOTS: JSON.stringify(snapshots) });

describe('eks: the data disk outlives the stack in its snapshots (under mocks)', () => {
  const runs: Record<string, ProgramRun> = {};
  before(async () => {
    const started = {
      mysql: runProgram('eks', { dbEngine: 'mysql' }, [], withSnapshots(ACCOUNT)),
      mongodb: runProgram('eks', { dbEngine: 'mongodb' }, [], withSnapshots(ACCOUNT)),
      empty: runProgram('eks', {}, [], withSnapshots([])),
      none: runProgram('eks', { dbSnapshot: 'none' }, [], withSnapshots(ACCOUNT)),
      named: runProgram(
        'eks',
        { dbSnapshot: 'snap-0000000000000a001', dbSnapshotsKept: 3 },
        [],
        withSnapshots(ACCOUNT),
      ),
      newer: runProgram(
        'eks',
        {},
        [],
        withSnapshots([...ACCOUNT, snapshot('snap-0000000000000a003', '2026-11-22T14:40:00.000Z', ours('mysql'))]),
      ),
    };
    for (const [name, pending] of Object.entries(started)) {
      runs[name] = await pending;
      assert.deepEqual(runs[name]?.errors, [], `the ${name} run failed under mocks`);
    }
  });
  const get = (name: string) => runs[name] as ProgramRun;

  test('the disk is snapshotted by the provider before it is deleted, with its stack and engine tags, and destroy waits for it', () => {
    for (const engine of ['mysql', 'mongodb']) {
      const volume = one(get(engine), VOLUME);
      assert.equal(volume.inputs.finalSnapshot, true, 'destroy would delete the disk without a snapshot');
      assert.equal(volume.retainOnDelete, false);
      assert.equal(volume.inputs.tags['two-tier/stack'], 'eks');
      assert.equal(volume.inputs.tags['two-tier/engine'], engine, 'the snapshot would not say which engine it holds');
      assert.equal(volume.deleteTimeout, '40m', "the provider's 10 minutes may not cover the snapshot");
    }
  });

  test('the disk is deleted, and so snapshotted, only after the database pod stopped: StatefulSet, claim and PV go first', () => {
    const r = get('mysql');
    const volume = one(r, VOLUME);
    const pv = one(r, 'kubernetes:core/v1:PersistentVolume');
    const claim = one(r, 'kubernetes:core/v1:PersistentVolumeClaim');
    const statefulSet = one(r, 'kubernetes:apps/v1:StatefulSet');
    assert.ok(pv.dependencies.includes(volume.urn), 'the disk could be snapshotted while its PV still binds it');
    assert.ok(claim.dependencies.includes(pv.urn));
    assert.ok(statefulSet.dependencies.includes(claim.urn), 'the disk could be snapshotted while the pod writes');
    assert.equal(one(r, 'kubernetes:apps/v1:StatefulSet').inputs.spec.template.spec.terminationGracePeriodSeconds, 60);
  });

  test('a new disk starts from the newest completed snapshot of this stack and engine, not a newer one of another', () => {
    assert.equal(one(get('mysql'), VOLUME).inputs.snapshotId, 'snap-0000000000000a002');
    assert.equal(one(get('mongodb'), VOLUME).inputs.snapshotId, 'snap-0000000000000b001');
  });

  test('with no snapshot of this stack and engine, or dbSnapshot none, the disk starts empty; a named one is used as given', () => {
    assert.equal(one(get('empty'), VOLUME).inputs.snapshotId, undefined);
    assert.equal(one(get('none'), VOLUME).inputs.snapshotId, undefined);
    assert.equal(one(get('named'), VOLUME).inputs.snapshotId, 'snap-0000000000000a001');
  });

  test('a later up never replaces the disk because a newer snapshot exists: snapshotId is all that differs, and it is ignored', () => {
    const [before, after] = [one(get('mysql'), VOLUME), one(get('newer'), VOLUME)];
    assert.equal(after.inputs.snapshotId, 'snap-0000000000000a003');
    const { snapshotId: _old, ...kept } = before.inputs;
    const { snapshotId: _new, ...unchanged } = after.inputs;
    assert.deepEqual(unchanged, kept, 'a newer snapshot changes another input of the disk');
    // Pulumi uses an ignored input only on create; a disk created empty has none, and the engine drops the new one.
    assert.deepEqual(
      after.ignoreChanges,
      ['snapshotId'],
      'the newer snapshot would replace the disk (snapshotId forces a new one)',
    );
  });

  test('a malformed dbSnapshot or dbSnapshotsKept fails the preview with one line naming the key', async () => {
    const [id, kept] = await Promise.all([
      runProgram('eks', { dbSnapshot: 'latest' }),
      runProgram('eks', { dbSnapshotsKept: 0 }),
    ]);
    assert.deepEqual(id.errors, [
      'config two-tier:dbSnapshot must be newest, none or a snapshot id (snap-0123456789abcdef0); it is "latest" (set it with: pulumi config set dbSnapshot <value>)',
    ]);
    assert.deepEqual(kept.errors, ['config two-tier:dbSnapshotsKept must be a whole number from 1 to 1000; it is 0']);
    assert.equal(
      id.resources.length + kept.resources.length,
      0,
      'resources were registered before the config was checked',
    );
  });

  test('daily snapshots by Data Lifecycle Manager with a role of their own, keeping dbSnapshotsKept; destroy removes both', () => {
    for (const [name, kept] of [
      ['mysql', 7],
      ['named', 3],
    ] as const) {
      const r = get(name);
      const policy = one(r, POLICY);
      const role = one(r, 'aws:iam/role:Role', 'data-snapshots-dlm');
      const attachment = one(r, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment', 'data-snapshots-dlm');
      assert.equal(policy.inputs.executionRoleArn, `arn:aws:iam::123456789012:role/${role.name}`);
      assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal, {
        Service: 'dlm.amazonaws.com',
      });
      assert.equal(
        attachment.inputs.policyArn,
        'arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole',
      );
      assert.ok(policy.dependencies.includes(attachment.urn), 'the schedule could run before its role may snapshot');
      assert.equal(policy.inputs.state, 'ENABLED');
      assert.match(policy.inputs.description, /^[0-9A-Za-z _-]+$/, 'DLM refuses other characters in a description');
      const details = policy.inputs.policyDetails;
      assert.deepEqual(details.resourceTypes, ['VOLUME']);
      assert.deepEqual(details.targetTags, { 'two-tier/stack': 'eks' });
      assert.equal(one(r, VOLUME).inputs.tags['two-tier/stack'], 'eks', 'the schedule targets no disk');
      const [schedule] = details.schedules;
      assert.deepEqual(schedule.createRule, { interval: 24, intervalUnit: 'HOURS', times: '13:00' });
      assert.deepEqual(schedule.retainRule, { count: kept });
      assert.equal(schedule.copyTags, true, 'daily snapshots would lack the engine tag, so never restore or prune');
      for (const resource of [policy, role, attachment]) {
        assert.equal(resource.retainOnDelete, false, `destroy would leave ${resource.name}`);
        assert.equal(resource.protect, false);
      }
      assert.deepEqual(
        ofType(r, 'aws:ebs/snapshot:Snapshot'),
        [],
        'a snapshot in the stack would be deleted by destroy',
      );
    }
  });

  test('local stacks have no disk of their own, so no snapshots, schedule or prune', async () => {
    const dev = await runProgram('dev');
    assert.deepEqual(dev.errors, []);
    assert.deepEqual(
      dev.resources.filter((r) => r.type === POLICY || r.name.startsWith('data-snapshots')).map((r) => r.name),
      [],
    );
  });

  describe('destroy bounds the snapshots: the prune runs after the final snapshot and keeps the newest dbSnapshotsKept', () => {
    let folder: string;
    let tools: string;
    before(async () => {
      folder = await mkdtemp(join(tmpdir(), 'two-tier-prune-'));
      tools = join(folder, 'bin');
      await run('mkdir', [tools]);
      // The script's own tools only, so a machine's real AWS CLI is never called.
      for (const tool of ['sort', 'tail']) {
        await symlink((await run('sh', ['-c', `command -v ${tool}`])).stdout.trim(), join(tools, tool));
      }
    });
    after(() => rm(folder, { recursive: true, force: true }));

    /**
     * An AWS CLI that lists `listing` only when asked for the completed snapshots of eks/mysql, and records what it
     * was given. Its identity is the environment's: profile two-tier-admin or role credentials act in the stack's
     * account, the default profile of this machine in another.
     */
    async function fakeAws(listing: string, failOn = '') {
      const print = listing
        .split('\n')
        .map((line) => `printf '%s\\n' '${line}'`)
        .join('; ');
      await writeFile(
        join(tools, 'aws'),
        `#!/bin/sh
echo "$*" >> "${join(folder, 'calls')}"
echo "AWS_PROFILE=\${AWS_PROFILE:-} AWS_REGION=\${AWS_REGION:-} $*" >> "${join(folder, 'given')}"
case "$1 $2" in
  "sts get-caller-identity")
    if [ "\${AWS_PROFILE:-}" = two-tier-admin ] || [ -n "\${AWS_ACCESS_KEY_ID:-}" ]; then echo 123456789012; else echo 210987654321; fi ;;
  "ec2 describe-snapshots")
    case "$*" in
      "ec2 describe-snapshots --owner-ids self --filters Name=tag:two-tier/stack,Values=eks Name=tag:two-tier/engine,Values=mysql Name=status,Values=completed --query Snapshots[].[StartTime,SnapshotId] --output text")
        ${print} ;;
      *) echo "unexpected: $*" >&2; exit 252 ;;
    esac ;;
  "ec2 delete-snapshot") [ "$4" = "${failOn}" ] && exit 254; exit 0 ;;
  *) exit 252 ;;
esac
`,
      );
      await chmod(join(tools, 'aws'), 0o755);
      await rm(join(folder, 'calls'), { force: true });
      await rm(join(folder, 'given'), { force: true });
    }

    /** The deploy role's credentials, as the destroy workflow's runner has them. */
    const RUNNER = { AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example', AWS_SESSION_TOKEN: 'example' };

    /**
     * Runs the prune exactly as the command provider would at destroy: its delete script, the environment of the
     * machine running destroy (`machine`) with the command's own environment over it (pulumi-command's local run).
     */
    async function prune(r: ProgramRun, machine: Record<string, string> = RUNNER) {
      const command = one(r, PRUNE);
      const result = await run('/bin/sh', ['-c', command.inputs.delete], {
        env: { ...machine, ...command.inputs.environment, PATH: tools },
      });
      const calls = await readFile(join(folder, 'calls'), 'utf8').catch(() => '');
      return {
        ...result,
        given: (await readFile(join(folder, 'given'), 'utf8').catch(() => '')).split('\n').filter(Boolean),
        deleted: calls
          .split('\n')
          .filter((line) => line.startsWith('ec2 delete-snapshot'))
          .map((line) => line.split(' ')[3]),
      };
    }

    const LISTING = [
      '2026-11-19T14:40:01+00:00\tsnap-0000000000000a000',
      '2026-11-22T14:40:03+00:00\tsnap-0000000000000a003',
      '2026-11-20T14:40:07+00:00\tsnap-0000000000000a001',
      '2026-11-21T13:00:09+00:00\tsnap-0000000000000a00d',
      '2026-11-21T14:40:02+00:00\tsnap-0000000000000a002',
    ].join('\n');

    test('the disk depends on the prune, so the prune is deleted, and runs, after the disk and its final snapshot', () => {
      const r = get('mysql');
      const prune = one(r, PRUNE);
      assert.ok(
        one(r, VOLUME).dependencies.includes(prune.urn),
        'the prune could run before the final snapshot exists',
      );
      assert.equal(prune.inputs.create, undefined, 'the prune must do nothing at up');
      assert.deepEqual(prune.inputs.environment, {
        STACK: 'eks',
        ENGINE: 'mysql',
        KEEP: '7',
        PINNED: '',
        ACCOUNT: '123456789012',
        AWS_REGION: 'ap-south-1',
      });
      assert.equal(
        one(get('mongodb'), PRUNE).name,
        'data-snapshots-prune-mongodb',
        'a switch would prune the new engine',
      );
    });

    test('the oldest beyond the newest dbSnapshotsKept are deleted, final and daily alike; a named source is never deleted', async () => {
      await fakeAws(LISTING);
      const kept3 = await prune(get('named'));
      // Newest first: a003, a002, a00d are kept; a001 is the named source; a000 goes.
      assert.deepEqual(kept3.deleted, ['snap-0000000000000a000']);
      assert.match(kept3.stdout, /deleted snap-0000000000000a000 of eks\/mysql, taken 2026-11-19T14:40:01\+00:00/);

      await fakeAws(LISTING);
      assert.deepEqual((await prune(get('mysql'))).deleted, [], 'seven kept: five snapshots are all kept');
    });

    test('the prune never fails the destroy: no AWS CLI, a refused listing or a refused delete leave snapshots and say so', async () => {
      await rm(join(tools, 'aws'), { force: true });
      const missing = await prune(get('named'));
      assert.deepEqual(missing.deleted, []);
      assert.match(missing.stderr, /no AWS CLI here: snapshots of eks\/mysql beyond the newest 3 were kept/);

      await fakeAws(LISTING);
      const other = one(get('named'), PRUNE);
      const refused = await run('/bin/sh', ['-c', other.inputs.delete], {
        env: { ...RUNNER, ...other.inputs.environment, ENGINE: 'other', PATH: tools },
      });
      assert.match(refused.stderr, /could not list the snapshots of eks\/other; none was deleted/);

      await fakeAws(LISTING, 'snap-0000000000000a000');
      const stuck = await prune(get('named'));
      assert.deepEqual(stuck.deleted, ['snap-0000000000000a000']);
      assert.match(stuck.stderr, /could not delete snap-0000000000000a000 of eks\/mysql; it stays/);
    });

    test("on a laptop with aws:profile the prune acts as the provider does, through AWS_PROFILE; the state holds no profile, and another account's CLI deletes nothing", async () => {
      const laptop = { AWS_PROFILE: 'two-tier-admin' };
      const [withProfile, unexported] = await Promise.all([
        runProgram('eks', { 'aws:profile': 'two-tier-admin', dbSnapshotsKept: 3 }, [], {
          ...laptop,
          ...withSnapshots(ACCOUNT),
        }),
        runProgram('eks', { 'aws:profile': 'two-tier-admin' }, [], { AWS_PROFILE: '', ...withSnapshots(ACCOUNT) }),
      ]);
      assert.deepEqual(withProfile.errors, []);
      assert.ok(
        !JSON.stringify(one(withProfile, PRUNE).inputs).includes('two-tier-admin'),
        'a profile in the state breaks the prune of a destroy run elsewhere',
      );
      assert.equal(unexported.errors.length, 1, 'aws:profile without AWS_PROFILE: the prune would act as someone else');
      assert.match(unexported.errors[0] as string, /export AWS_PROFILE=two-tier-admin/);

      await fakeAws(LISTING);
      const fromLaptop = await prune(withProfile, laptop);
      assert.deepEqual(fromLaptop.deleted, ['snap-0000000000000a001', 'snap-0000000000000a000']);
      for (const line of fromLaptop.given) {
        assert.match(line, /^AWS_PROFILE=two-tier-admin AWS_REGION=ap-south-1 /, `the AWS CLI was given: ${line}`);
      }

      await fakeAws(LISTING);
      const fromRunner = await prune(withProfile);
      assert.deepEqual(
        fromRunner.deleted,
        ['snap-0000000000000a001', 'snap-0000000000000a000'],
        'the destroy workflow',
      );

      await fakeAws(LISTING);
      const otherAccount = await prune(withProfile, {});
      assert.deepEqual(otherAccount.deleted, []);
      assert.deepEqual(
        otherAccount.given.map((line) => line.replace(/^\S+ \S+ /, '')),
        ['sts get-caller-identity --query Account --output text'],
        "the CLI listed or deleted in an account that is not the stack's",
      );
      assert.match(
        otherAccount.stderr,
        /acts in account 210987654321, not the stack's 123456789012 \(export AWS_PROFILE as for pulumi\): snapshots of eks\/mysql beyond the newest 3 were kept/,
      );
    });
  });
});
