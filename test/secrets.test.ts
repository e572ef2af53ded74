import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { findLiteralSecrets } from './support/secret-scan';
import { REPO } from './support/server-process';

test('the scanner finds literal secrets in configuration and code', () => {
  const bad: Array<[string, string]> = [
    ['k8s/mysql-secrets.yml', '  MYSQL_ROOT_PASSWORD: YWRtaW4=  # base64 encoded "admin"'],
    ['compose.yaml', '      MYSQL_PASSWORD: admin'],
    ['Pulumi.dev.yaml', '  two-tier:dbPassword: s3cret-value'],
    ['.env', 'API_KEY=abcdef123456'],
    ['infra/database.ts', "  stringData: { password: 'hunter2' },"],
    ['index.ts', 'const dbPassword = "correct horse battery";'],
    ['infra/eks-cluster.ts', "  metadataOptions: { httpTokens: 'required', apiToken: 'abcdef123456' },"],
  ];
  for (const [path, line] of bad) assert.equal(findLiteralSecrets(path, line).length, 1, `missed: ${line}`);
});

test('the scanner leaves references, encrypted values and declarations alone', () => {
  const good: Array<[string, string]> = [
    ['compose.yaml', '      MYSQL_PASSWORD: ${MYSQL_PASSWORD:?set MYSQL_PASSWORD}'],
    ['Pulumi.eks.yaml', '  two-tier:dbPassword:\n    secure: AAABAHjX2s9Q=='],
    ['.github/workflows/deploy.yml', '          PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}'],
    ['infra/database.ts', '          password: pulumi.secret(password),'],
    ['service/src/config.ts', "  MYSQL_PASSWORD: Type.String({ default: '' }),"],
    ['.github/workflows/deploy.yml', '      id-token: write # OIDC'],
    ['infra/web-tier.ts', "            { name: 'MYSQL_PASSWORD', valueFrom: fromSecret('password') },"],
    ['infra/eks-cluster.ts', "        metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 },"],
  ];
  for (const [path, text] of good) assert.deepEqual(findLiteralSecrets(path, text), [], `flagged: ${text}`);
});

test('no tracked file holds a literal secret (test fixtures aside), and the stack files hold none at all', () => {
  const tracked = execFileSync('git', ['ls-files'], { cwd: REPO, encoding: 'utf8' })
    .split('\n')
    .filter(
      (path) =>
        path &&
        !path.startsWith('test/') &&
        !path.endsWith('package-lock.json') &&
        !path.endsWith('.png') &&
        !path.endsWith('.svg'),
    );
  assert.ok(
    tracked.includes('Pulumi.eks.yaml') && tracked.includes('index.ts'),
    'the scan does not see the repository',
  );
  const findings = tracked.flatMap((path) => findLiteralSecrets(path, readFileSync(join(REPO, path), 'utf8')));
  assert.deepEqual(findings, []);
  for (const stack of ['Pulumi.dev.yaml', 'Pulumi.eks.yaml']) {
    assert.doesNotMatch(
      readFileSync(join(REPO, stack), 'utf8'),
      /^\s*[\w-]+:db\w*Password:/m,
      `${stack} sets a password`,
    );
  }
});
