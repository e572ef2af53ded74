import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import yaml from 'js-yaml';
import { REPO } from './support/server-process';

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  uses?: string;
  needs?: string | string[];
  steps?: Step[];
  permissions?: Record<string, string>;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const FOLDER = join(REPO, '.github', 'workflows');
const workflows = Object.fromEntries(
  readdirSync(FOLDER)
    .filter((file) => file.endsWith('.yml'))
    .map((file) => [file, yaml.load(readFileSync(join(FOLDER, file), 'utf8')) as Workflow]),
);

/** `owner/repo[/path]@<full commit> # vX.Y.Z`: the commit runs, the comment says which release it is. */
const PINNED_ACTION = /^(?<action>[\w.-]+\/[\w.-]+(?:\/[\w./-]+)?)@(?<commit>[0-9a-f]{40}) # (?<tag>v\d+\.\d+\.\d+)$/;

const TEST_COMMAND = /(^|\s)(npm test|bash \.ci\/run)(\s|$)/m;

/** Whether a job runs the test suite, itself or through a reusable workflow of this repository. */
function runsTests(job: Job): boolean {
  if (job.uses?.startsWith('./.github/workflows/')) {
    const called = workflows[job.uses.replace('./.github/workflows/', '')];
    return !!called && Object.values(called.jobs).some(runsTests);
  }
  return (job.steps ?? []).some((step) => TEST_COMMAND.test(step.run ?? ''));
}

/** The Pulumi command a step runs, if any. */
function pulumiCommand(step: Step): string | undefined {
  if (step.uses?.startsWith('pulumi/actions@')) return step.with?.command ? String(step.with.command) : undefined;
  return /\bpulumi (preview|up|destroy)\b/.exec(step.run ?? '')?.[1];
}

function needs(job: Job): string[] {
  return job.needs === undefined ? [] : ([] as string[]).concat(job.needs);
}

/** Every job this job waits for, directly or not. */
function upstream(workflow: Workflow, name: string): string[] {
  return needs(workflow.jobs[name] as Job).flatMap((need) => [need, ...upstream(workflow, need)]);
}

describe('the GitHub workflows', () => {
  const pulumiJobs = Object.entries(workflows).flatMap(([file, workflow]) =>
    Object.entries(workflow.jobs)
      .filter(([, job]) => (job.steps ?? []).some((step) => pulumiCommand(step)))
      .map(([name, job]) => ({ file, workflow, name, job })),
  );

  test('pull requests run the tests, then the dev lifecycle on a kind cluster the stack uses, and preview eks', () => {
    const pr = workflows['pull-request.yml'] as Workflow;
    assert.ok('pull_request' in pr.on);
    const preview = pulumiJobs.find((j) => j.file === 'pull-request.yml');
    assert.ok(preview, 'no preview job on pull requests');
    const step = preview.job.steps?.find((s) => pulumiCommand(s)) as Step;
    assert.equal(pulumiCommand(step), 'preview');
    assert.equal(step.with?.['stack-name'], 'eks');
    assert.equal(step.with?.['comment-on-pr'], true);

    const lifecycle = pr.jobs.lifecycle as Job;
    assert.ok(
      upstream(pr, 'lifecycle').some((need) => runsTests(pr.jobs[need] as Job)),
      'the lifecycle runs after the tests',
    );
    const kind = lifecycle.steps?.find((s) => s.uses?.startsWith('helm/kind-action@')) as Step;
    const e2e = lifecycle.steps?.find((s) => /\bnpm run e2e\b/.test(s.run ?? '')) as Step & {
      env?: Record<string, string>;
    };
    assert.ok(kind && e2e, 'the lifecycle job creates a kind cluster and runs npm run e2e');
    const devStack = yaml.load(readFileSync(join(REPO, 'Pulumi.dev.yaml'), 'utf8')) as {
      config: Record<string, unknown>;
    };
    const kindName = String(devStack.config['two-tier:kindClusterName'] ?? 'kind');
    assert.equal(kind.with?.cluster_name, kindName, 'the kind cluster has the name the dev stack loads images into');
    assert.equal(e2e.env?.E2E_KUBE_CONTEXT, `kind-${kindName}`);
    const kindConfig = readFileSync(join(REPO, String(kind.with?.config)), 'utf8');
    assert.match(kindConfig, /containerPort: 30004\s+hostPort: 30004/, 'the NodePort is published, so the url answers');
  });

  test('every job that previews or updates runs only after the tests passed', () => {
    const gated = pulumiJobs.filter(({ job }) =>
      (job.steps ?? []).some((s) => ['preview', 'up'].includes(pulumiCommand(s) ?? '')),
    );
    assert.ok(gated.length >= 2);
    for (const { file, workflow, name, job } of gated) {
      const testedBefore = upstream(workflow, name).some((need) => runsTests(workflow.jobs[need] as Job));
      const testedInJob = (() => {
        const steps = job.steps ?? [];
        const first = steps.findIndex((s) => pulumiCommand(s));
        return steps.slice(0, first).some((s) => TEST_COMMAND.test(s.run ?? ''));
      })();
      assert.ok(testedBefore || testedInJob, `${file} job ${name} runs Pulumi without running the tests first`);
    }
  });

  test('the policy pack is passed to every preview and up', () => {
    for (const { file, name, job } of pulumiJobs) {
      for (const step of job.steps ?? []) {
        const command = pulumiCommand(step);
        if (command !== 'preview' && command !== 'up') continue;
        const packs = String(step.with?.policyPacks ?? '') + (step.run ?? '');
        assert.match(
          packs,
          /(^|\s|--policy-pack )policy(\s|$)/,
          `${file} job ${name} runs ${command} without the policy pack`,
        );
      }
    }
  });

  test('updates happen only when asked, and destroy runs on a schedule or by hand, never from a pull request', () => {
    for (const { file, workflow, job } of pulumiJobs) {
      const commands = (job.steps ?? []).map(pulumiCommand).filter(Boolean);
      if (commands.includes('up'))
        assert.deepEqual(Object.keys(workflow.on), ['workflow_dispatch'], `${file} updates without being asked`);
      if (commands.includes('destroy')) {
        assert.ok(
          !('pull_request' in workflow.on) && !('push' in workflow.on),
          `${file} destroys on a push or pull request`,
        );
        assert.ok('schedule' in workflow.on && 'workflow_dispatch' in workflow.on);
      }
    }
  });

  test('after every destroy the leftovers command runs for the same stack, even when the destroy failed', () => {
    const destroying = pulumiJobs.filter(({ job }) => (job.steps ?? []).some((s) => pulumiCommand(s) === 'destroy'));
    assert.ok(destroying.length >= 1, 'no workflow destroys');
    for (const { file, name, job } of destroying) {
      const steps = (job.steps ?? []) as Array<Step & { if?: string }>;
      const destroyAt = steps.findIndex((s) => pulumiCommand(s) === 'destroy');
      const destroyStack = String(steps[destroyAt]?.with?.['stack-name']);
      const check = steps.slice(destroyAt + 1).find((s) => /\bnpm run leftovers\b/.test(s.run ?? ''));
      assert.ok(check, `${file} job ${name} destroys without checking what is left`);
      assert.equal(check.run, `npm run leftovers -- ${destroyStack}`, 'the check must look at the stack destroyed');
      assert.match(String(check.if), /!cancelled\(\)|always\(\)/, 'a failed destroy must still list what it left');
    }
  });

  test('destroy runs the program (pulumi 3.259 reads PULUMI_RUN_PROGRAM as --run-program), so its providers are configured by this run', () => {
    for (const { file, name, job } of pulumiJobs) {
      for (const step of (job.steps ?? []) as Array<Step & { env?: Record<string, string> }>) {
        if (pulumiCommand(step) !== 'destroy') continue;
        const flag = /--run-program\b/.test(step.run ?? '') || step.env?.PULUMI_RUN_PROGRAM === 'true';
        assert.ok(flag, `${file} job ${name} destroys with the provider inputs the last up stored`);
      }
    }
  });

  test('every Pulumi CLI a workflow installs is the version the SDK and the offline toolchain are', () => {
    const sdk = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).dependencies['@pulumi/pulumi'];
    const toolchain = /^PULUMI_VERSION=(\S+)$/m.exec(readFileSync(join(REPO, 'scripts', 'versions.sh'), 'utf8'))?.[1];
    assert.equal(toolchain, sdk);
    const steps = Object.entries(workflows).flatMap(([file, workflow]) =>
      Object.values(workflow.jobs).flatMap((job) =>
        (job.steps ?? []).filter((step) => step.uses?.startsWith('pulumi/actions@')).map((step) => ({ file, step })),
      ),
    );
    assert.ok(steps.length >= 4, 'the workflows install the CLI in fewer places than they run it');
    for (const { file, step } of steps) {
      // Unset, the action installs the newest 3.x: a flag this repository relies on may change under it.
      assert.equal(step.with?.['pulumi-version'], sdk, `${file}: pulumi/actions without pulumi-version ${sdk}`);
    }
  });

  test('every action from another repository is pinned by its full commit, its release tag in a comment', () => {
    const pinned = new Map<string, string>();
    let actions = 0;
    for (const file of Object.keys(workflows)) {
      for (const [, reference = ''] of readFileSync(join(FOLDER, file), 'utf8').matchAll(
        /^\s*(?:- )?uses:\s*(.+)$/gm,
      )) {
        if (reference.startsWith('./')) continue;
        actions++;
        const match = PINNED_ACTION.exec(reference.trim());
        assert.ok(match?.groups, `${file}: "${reference}" is not pinned as <owner>/<repo>@<40 hex digits> # vX.Y.Z`);
        const { action, commit, tag } = match.groups as { action: string; commit: string; tag: string };
        const seen = pinned.get(action);
        assert.ok(
          !seen || seen === `${commit} ${tag}`,
          `${file}: ${action} is pinned to ${commit} ${tag} here, ${seen} elsewhere`,
        );
        pinned.set(action, `${commit} ${tag}`);
      }
    }
    assert.ok(actions >= 8, `only ${actions} actions were found`);
  });

  test('least privilege: read-only by default, OIDC instead of AWS keys, secrets only from the repository', () => {
    for (const [file, workflow] of Object.entries(workflows)) {
      assert.deepEqual(workflow.permissions, { contents: 'read' }, `${file} has no read-only default permissions`);
      const text = readFileSync(join(FOLDER, file), 'utf8');
      assert.doesNotMatch(
        text,
        /aws-access-key-id|aws-secret-access-key|write-all/,
        `${file} uses long-lived keys or broad rights`,
      );
      for (const [name, job] of Object.entries(workflow.jobs)) {
        const assumesRole = (job.steps ?? []).some((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials'));
        assert.equal(
          job.permissions?.['id-token'] === 'write',
          assumesRole,
          `${file} job ${name}: id-token only to assume a role`,
        );
      }
      for (const match of text.matchAll(/PULUMI_ACCESS_TOKEN: (.*)/g))
        assert.match(match[1] as string, /^\$\{\{ secrets\./);
    }
  });

  test('a drift check previews eks against the refreshed state before the evening destroy, the diff in the summary', () => {
    const drift = workflows['drift.yml'] as Workflow;
    const destroy = workflows['destroy.yml'] as Workflow;
    const cron = (workflow: Workflow) => {
      const [minute, hour] = String((workflow.on.schedule as { cron: string }[])[0]?.cron).split(' ');
      return Number(hour) * 60 + Number(minute);
    };
    assert.ok('workflow_dispatch' in drift.on);
    assert.ok(cron(drift) < cron(destroy), 'the drift check runs after the stack is destroyed');
    const steps = (drift.jobs.drift as Job).steps ?? [];
    const preview = steps.find((s) => pulumiCommand(s) === 'preview') as Step & { if?: string };
    assert.ok(preview, 'no preview step');
    const run = preview.run ?? '';
    for (const flag of ['--stack eks', '--refresh', '--expect-no-changes', '--diff'])
      assert.ok(run.includes(flag), `the preview runs without ${flag}`);
    assert.match(run, /set -o pipefail/, "tee would hide the preview's failure");
    assert.match(run, /GITHUB_STEP_SUMMARY/);
    assert.match(run, /exit "\$status"/, 'the job does not fail on drift');
    assert.match(preview.if ?? '', /resources > 1/, 'a destroyed stack is previewed as all new');
    assert.deepEqual(
      steps.map(pulumiCommand).filter((c) => c && c !== 'preview'),
      [],
      'the drift check changes nothing',
    );
    const role = steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials'));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, as the YAML holds it.
    assert.equal(role?.with?.['role-to-assume'], '${{ secrets.AWS_PREVIEW_ROLE_ARN }}');
  });
});
