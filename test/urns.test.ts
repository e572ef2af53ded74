/**
 * A stack updated across a change to the components must plan no replacement: every resource keeps its
 * URN and parent, or carries an alias to its old URN. The program runs under mocks for each variant
 * (test/support/urns.ts) and its resources are compared with fixtures recorded from the code before the
 * components were split (test/fixtures/urns-*.json): recorded rather than run from git, so the test
 * needs no history and the fixture shows in review what a change does to the state.
 * After a deliberate change of names, record them again: node --import tsx test/support/urns.ts
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, describe, test } from 'node:test';
import type { ProgramRun } from './support/program';
import { fixturePath, runVariant, type UrnRecord, urnRecords, VARIANTS } from './support/urns';

for (const variant of VARIANTS) {
  describe(`URNs: ${variant.id}`, () => {
    let run: ProgramRun;
    let recorded: UrnRecord[];
    before(async () => {
      [run, recorded] = await Promise.all([
        runVariant(variant),
        readFile(fixturePath(variant), 'utf8').then((text) => JSON.parse(text) as UrnRecord[]),
      ]);
    });

    test('every recorded resource is still there, by URN or by an alias to it, and nothing new lacks one', () => {
      const now = new Set(run.resources.map((resource) => resource.urn));
      const before = new Set(recorded.map((resource) => resource.urn));
      const appeared = run.resources.filter((resource) => !before.has(resource.urn));
      const aliased = new Set(appeared.flatMap((resource) => resource.aliases.map((alias) => alias.urn)));
      const unaliased = appeared.filter((resource) => !resource.aliases.some((alias) => before.has(alias.urn ?? '')));
      const disappeared = [...before].filter((urn) => !now.has(urn) && !aliased.has(urn));
      assert.deepEqual(
        { disappeared, appeared: unaliased.map((resource) => resource.urn) },
        { disappeared: [], appeared: [] },
        `${variant.id}: a disappeared URN is a delete, an appeared one a create: give the moved resource an alias to its old URN, or record the fixtures again if the change is meant`,
      );
      assert.equal(run.resources.length, recorded.length, `${variant.id}: resources were added or removed`);
    });

    test('every resource that kept its URN kept its parent', () => {
      const parents = new Map(urnRecords(run).map((resource) => [resource.urn, resource.parent]));
      const moved = recorded
        .filter((resource) => parents.has(resource.urn) && parents.get(resource.urn) !== resource.parent)
        .map((resource) => `${resource.urn}: ${resource.parent} -> ${parents.get(resource.urn)}`);
      assert.deepEqual(moved, [], `${variant.id}: resources under another parent`);
    });
  });
}
