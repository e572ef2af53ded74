import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { REPO } from './support/server-process';

// What a new machine of the project's kind has before `.ci/run` (its image: Debian 12 with Go, Python,
// Node.js, gcc and the usual base tools). Anything else a test, benchmark or script runs must be in
// scripts/host-packages.sh's table, which `.ci/run` installs from.
const BASE_IMAGE = new Set([
  ...['apt-get', 'awk', 'basename', 'bash', 'cat', 'chmod', 'chown', 'chroot', 'cp', 'curl', 'cut', 'date'],
  ...[
    'dirname',
    'dpkg-query',
    'env',
    'find',
    'gcc',
    'getconf',
    'git',
    'go',
    'grep',
    'gzip',
    'head',
    'id',
    'install',
    'ip',
  ],
  ...[
    'kill',
    'ln',
    'mkdir',
    'mktemp',
    'mount',
    'mv',
    'nohup',
    'node',
    'npm',
    'npx',
    'od',
    'perl',
    'pgrep',
    'ps',
    'python3',
  ],
  ...[
    'readlink',
    'rm',
    'rmdir',
    'script',
    'setpriv',
    'sed',
    'seq',
    'sh',
    'sha256sum',
    'sleep',
    'sort',
    'stat',
    'sysctl',
    'tail',
  ],
  ...['tar', 'tee', 'timeout', 'touch', 'tr', 'umount', 'uname', 'wc', 'xargs'],
]);

// Shell words that are not programs: keywords, builtins, and what test(1) and friends are.
const SHELL_WORDS = new Set([
  ...['if', 'then', 'else', 'elif', 'fi', 'for', 'while', 'until', 'do', 'done', 'case', 'esac', 'in', 'function'],
  ...['cd', 'echo', 'printf', 'exit', 'return', 'set', 'export', 'local', 'declare', 'readonly', 'source', 'eval'],
  ...['exec', 'trap', 'wait', 'shift', 'read', 'true', 'false', 'test', 'command', 'type', 'unset', 'break'],
  ...['continue', 'time', '[', '[[', ']]', '{', '}', '!', ':', '.'],
]);

const files = (folder: string, ending: string): string[] =>
  readdirSync(join(REPO, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith(ending) && !name.includes('node_modules'))
    .map((name) => join(REPO, folder, name));

/** Programs a TypeScript file starts by name: spawn/execFile/run-style calls and components' `command:`. */
export function spawnedByTypeScript(source: string): string[] {
  const call = /\b(?:spawn|spawnSync|execFile|execFileSync|run|openssl)\)?\(\s*'([\w./-]+)'/g;
  const component = /^\s*command: '([\w./-]+)'/gm;
  return [...source.matchAll(call), ...source.matchAll(component)].map((match) => match[1] as string);
}

/** Programs a shell script runs: the first word of each simple command, outside here-documents. */
export function spawnedByShell(source: string): string[] {
  const functions = new Set([...source.matchAll(/^\s*([\w-]+)\(\)\s*\{/gm)].map((match) => match[1]));
  const code: string[] = [];
  let hereDocument: string | undefined;
  for (const line of source.split('\n')) {
    if (hereDocument) {
      if (line.trim() === hereDocument) hereDocument = undefined;
      continue;
    }
    hereDocument = /<<-?\s*'?(\w+)'?/.exec(line)?.[1];
    code.push(line.replace(/(^|\s)#.*$/, ''));
  }
  // Quoted text (a `node -e '...'` program among it) runs nothing itself, across lines too.
  const unquoted = code.join('\n').replace(/'[^']*'|"(?:[^"\\]|\\.)*"/g, '""');
  const found: string[] = [];
  for (const line of unquoted.split('\n')) {
    for (const segment of line.split(/\|\||&&|[|;({]|\$\(|\bthen\b|\bdo\b|\belse\b/)) {
      const words = segment.trim().split(/\s+/);
      while (
        words.length > 0 &&
        (/^\w+=/.test(words[0] as string) ||
          ['!', 'time', 'exec', 'if', 'elif', 'while', 'until'].includes(words[0] as string))
      )
        words.shift();
      const word = words[0];
      if (!word || !/^[a-z][\w.-]*$/.test(word) || SHELL_WORDS.has(word) || functions.has(word)) continue;
      found.push(word);
    }
  }
  return found;
}

function hostPackageCommands(): Set<string> {
  const script = readFileSync(join(REPO, 'scripts', 'host-packages.sh'), 'utf8');
  return new Set([...script.matchAll(/^\s*\[([^\]]+)\]=[\w.+-]+/gm)].map((match) => match[1] as string));
}

describe('every program the tests, benchmarks and scripts run is on a new machine after .ci/run', () => {
  test('each one is in the base image or installed by scripts/host-packages.sh', () => {
    const installed = hostPackageCommands();
    assert.ok(installed.has('wrk'), 'host-packages.sh installs wrk (the bench and the lifecycle run it)');
    const sources = [
      ...['test', 'bench', 'scripts']
        .flatMap((folder) => files(folder, '.ts'))
        .map((file) => ({ file, spawned: spawnedByTypeScript })),
      ...files('scripts', '.sh').map((file) => ({ file, spawned: spawnedByShell })),
      { file: join(REPO, '.ci', 'run'), spawned: spawnedByShell },
    ];
    const missing: string[] = [];
    let seen = 0;
    for (const { file, spawned } of sources) {
      for (const command of spawned(readFileSync(file, 'utf8'))) {
        seen++;
        if (!installed.has(command) && !BASE_IMAGE.has(command) && !command.startsWith('/bin/'))
          missing.push(`${relative(REPO, file)}: ${command}`);
      }
    }
    assert.ok(seen > 50, `the scan found only ${seen} commands: it no longer reads the code`);
    assert.deepEqual(
      [...new Set(missing)],
      [],
      'programs run that a new machine lacks: add them to scripts/host-packages.sh',
    );
  });

  test('the scan finds what it is meant to find', () => {
    assert.deepEqual(
      spawnedByTypeScript("await promisify(execFile)('wrk', args); spawn(\n  'mariadbd', []); run('SELECT 1')"),
      ['wrk', 'mariadbd'],
    );
    assert.deepEqual(
      spawnedByShell(
        "step() { printf x; }\nstep hi\nnode -e '\n  const a = 1;\n'\nif ! command -v ctr >/dev/null; then buildah push x | gzip; fi\ncat <<'EOF'\nRUN apt-get x\nEOF\nFOO=1 wrk -c2 # mariadbd\n",
      ),
      ['node', 'buildah', 'gzip', 'cat', 'wrk'],
    );
  });
});
