/**
 * The README a first-time user reads: short, its sections in the order they need them, each leading
 * with its command, and a configuration table that documents every key of Pulumi.yaml.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import yaml from 'js-yaml';
import { REPO } from './support/server-process';

const MAX_LINES = 300;
const SECTIONS = [
  'The two commands',
  'Deploy dev',
  'Deploy eks',
  'Configuration',
  'What it costs',
  'Destroy',
  'Troubleshooting',
  'Upgrades',
  'What was verified here',
];
/** Read by index.ts as secrets, so never in Pulumi.yaml, but documented in the same table. */
const SECRET_KEYS = ['dbPassword', 'dbRootPassword'];

const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
const lines = readme.trimEnd().split('\n');

/** The README's `## ` sections, by title, each with its lines after the heading. */
function sections(): { title: string; body: string[] }[] {
  const found: { title: string; body: string[] }[] = [];
  let inCode = false;
  for (const line of lines) {
    if (line.startsWith('```')) inCode = !inCode;
    if (!inCode && line.startsWith('## ')) found.push({ title: line.slice(3).trim(), body: [] });
    else found.at(-1)?.body.push(line);
  }
  return found;
}

function section(title: string): string[] {
  const found = sections().find((s) => s.title === title);
  assert.ok(found, `the README has no "## ${title}" section`);
  return found.body;
}

interface ConfigKey {
  readonly default?: unknown;
}

/** The configuration table's rows: each key named in its first cell, with its default cell. */
function configurationTable(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of section('Configuration')) {
    if (!line.startsWith('|') || /^\|\s*-/.test(line)) continue;
    const [, keyCell = '', defaultCell = ''] = line.split('|').map((cell) => cell.trim());
    for (const [, key] of keyCell.matchAll(/`([^`]+)`/g)) rows.set(key as string, defaultCell);
  }
  return rows;
}

describe('the README', () => {
  test(`is at most ${MAX_LINES} lines`, () => {
    assert.ok(lines.length <= MAX_LINES, `README.md has ${lines.length} lines; at most ${MAX_LINES}`);
  });

  test('says what it is, with the diagram, then has its sections in the order a user needs them', () => {
    assert.deepEqual(
      sections().map((s) => s.title),
      SECTIONS,
    );
    const firstSection = readme.indexOf('\n## ');
    const diagram = readme.indexOf('```mermaid');
    assert.ok(diagram >= 0 && diagram < firstSection, 'the diagram comes before the first section');
  });

  test('every section leads with its command', () => {
    for (const { title, body } of sections()) {
      const first = body.find((line) => line.trim() !== '');
      assert.match(first ?? '', /^```sh$/, `"## ${title}" starts with prose, not a command`);
    }
  });

  test('every paragraph of prose is at most three sentences', () => {
    const paragraphs = readme
      .split(/```[\s\S]*?```/)
      .flatMap((text) => text.split(/\n\s*\n/))
      .filter((text) => /^[A-Za-z`*[]/.test(text.trim()));
    assert.ok(paragraphs.length > 10, 'the README has hardly any prose to read');
    for (const paragraph of paragraphs) {
      // Code, links' targets and asides in parentheses hold dots that end no sentence.
      const prose = paragraph
        .replace(/`[^`]*`/g, 'x')
        .replace(/\]\([^)]*\)/g, ']')
        .replace(/\([^()]*\)/g, '');
      const sentences = prose.match(/[.!?](\s|$)/g)?.length ?? 0;
      assert.ok(sentences <= 3, `${sentences} sentences in: ${paragraph.slice(0, 120)}`);
    }
  });

  test('the test command is the one .ci/run calls: npm test', () => {
    const commands = section('The two commands').join('\n');
    assert.match(commands, /^npm test\b/m, 'the README no longer gives `npm test` as the test command');
    const ci = readFileSync(join(REPO, '.ci', 'run'), 'utf8');
    assert.match(ci, /^npm test$/m, '.ci/run no longer calls npm test');
  });

  test("the configuration table documents every key of Pulumi.yaml's config, with its default", () => {
    const project = yaml.load(readFileSync(join(REPO, 'Pulumi.yaml'), 'utf8')) as {
      config: Record<string, ConfigKey>;
    };
    const table = configurationTable();
    const keys = Object.keys(project.config);
    const missing = keys.filter((key) => !table.has(key));
    assert.deepEqual(missing, [], `missing from the README's configuration table: ${missing.join(', ')}`);
    const wrongDefaults = keys.filter((key) => {
      const value = project.config[key]?.default;
      const shown = Array.isArray(value) ? JSON.stringify(value) : String(value);
      return shown !== '' && !table.get(key)?.includes(`\`${shown}\``);
    });
    assert.deepEqual(
      wrongDefaults,
      [],
      `the table shows another default than Pulumi.yaml for: ${wrongDefaults.join(', ')}`,
    );
    const unknown = [...table.keys()].filter((key) => !keys.includes(key) && !SECRET_KEYS.includes(key));
    assert.deepEqual(unknown, [], `the table documents keys Pulumi.yaml does not have: ${unknown.join(', ')}`);
  });
});
