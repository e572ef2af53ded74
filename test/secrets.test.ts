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
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own placeholder syntax, as written in it.
    ['compose.yaml', '      MYSQL_PASSWORD: ${MYSQL_PASSWORD:?set MYSQL_PASSWORD}'],
    ['Pulumi.eks.yaml', '  two-tier:dbPassword:\n    secure: AAABAHjX2s9Q=='],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own placeholder syntax, as written in it.
    ['.github/workflows/deploy.yml', '          PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}'],
    ['infra/database.ts', '          password: pulumi.secret(password),'],
    ['service/src/config.ts', "  MYSQL_PASSWORD: Type.String({ default: '' }),"],
    ['.github/workflows/deploy.yml', '      id-token: write # OIDC'],
    ['infra/web-tier.ts', "            { name: 'MYSQL_PASSWORD', valueFrom: fromSecret('password') },"],
    ['infra/eks-cluster.ts', "        metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 },"],
  ];
  for (const [path, text] of good) assert.deepEqual(findLiteralSecrets(path, text), [], `flagged: ${text}`);
});

/** The repository's tracked files, those matching `pathspecs` (all when none). */
const trackedFiles = (...pathspecs: string[]) =>
  execFileSync('git', ['ls-files', ...pathspecs], { cwd: REPO, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);

test('no tracked file holds a literal secret (test fixtures aside), and the stack files hold none at all', () => {
  const tracked = trackedFiles().filter(
    (path) =>
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

/** A database client given its password as the next word after `-p` or `--password`: a leading "-" reads as an option. */
const PASSWORD_AS_NEXT_WORD = /\b(?:mongosh|mysql\w*|mariadb\w*)\b.*(?:\s-p|\s--password)\s+\\?["']?\$/;

test('every login on a command line passes its password as --password=, so one that starts with "-" is still a password', () => {
  const examples: Array<[string, boolean]> = [
    ['mongosh -u root -p "$MONGO_INITDB_ROOT_PASSWORD"', true],
    ["mysql --password '$PW' app", true],
    ['mongosh -u app -p "$(cat)" app', true],
    ['test: ["CMD-SHELL", "mongosh -p \\"$$PW\\""]', true],
    ['mongosh --password="$P"', false],
    ['MYSQL_PWD="$P" mysql -uapp', false],
    ['mkdir -p "$CACHE"', false],
    ['mysql -h db -P "$PORT"', false],
  ];
  for (const [line, flagged] of examples)
    assert.equal(PASSWORD_AS_NEXT_WORD.test(line), flagged, `${flagged ? 'missed' : 'flagged'}: ${line}`);
  const tracked = trackedFiles('*.sh', '*.ts', '*.yaml', '*.md').filter((path) => path !== 'test/secrets.test.ts');
  assert.ok(tracked.includes('test/node/images/mongo-entrypoint.sh'), 'the scan does not see the stand-ins');
  // A command continued over lines with a backslash is read as one line.
  const found = tracked.flatMap((path) =>
    readFileSync(join(REPO, path), 'utf8')
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .flatMap((line) => (PASSWORD_AS_NEXT_WORD.test(line) ? [`${path}: ${line.trim()}`] : [])),
  );
  assert.deepEqual(found, []);
});
