import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DURABLY_VERSION, getWorkflow, parseHistory, step, type RunHistory, type WorkflowDefinition } from '@durably/core';
import { replayHistory } from '../src/index.js';
import { add, basics, double, flaky, scenarios } from '../fixtures/workflows.js';
import { RECORD_COMMAND, eventTypesOfContracts, missingEventTypes } from '../fixtures/coverage.js';

/**
 * The compatibility promise: histories recorded by this release (fixtures/histories, one scenario per
 * primitive) replay against the current code. A change that cannot replay them fails here.
 */
const here = dirname(fileURLToPath(import.meta.url));
const historiesDir = resolve(here, '../fixtures/histories');
/** Every release's histories: `<version>/<scenario>.history.json`. */
const files = readdirSync(historiesDir, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.history.json'))
  .map((f) => f.split(sep).join('/'))
  .sort();
const histories = new Map<string, RunHistory>(files.map((f) => [f, parseHistory(readFileSync(join(historiesDir, f), 'utf8'), f)]));

describe('compatibility fixtures', () => {
  it(`include this release's (${DURABLY_VERSION}), one or more per scenario`, () => {
    const own = new Set(files.filter((f) => f.startsWith(`${DURABLY_VERSION}/`)).map((f) => f.slice(DURABLY_VERSION.length + 1).split('.')[0]));
    const unrecorded = scenarios.map((s) => s.name).filter((name) => !own.has(name));
    expect(unrecorded, `scenarios with no history in ${historiesDir}/${DURABLY_VERSION}: run ${RECORD_COMMAND}`).toEqual([]);
  });

  for (const file of files) {
    it(`replays ${file} against the current code`, async () => {
      const history = histories.get(file)!;
      const wf = getWorkflow(history.run.workflow);
      expect(wf, `${file} is a run of "${history.run.workflow}", which fixtures/workflows.ts no longer defines: restore it, or re-record with ${RECORD_COMMAND}`).toBeDefined();
      const check = await replayHistory(wf!, history);
      expect(check, `${file} no longer replays: ${check.ok ? '' : check.divergence.message}`).toEqual({ ok: true });
    });
  }

  it('hold every event type of EventDataMap', () => {
    expect(eventTypesOfContracts()).toContain('run_created'); // the source was read
    const missing = missingEventTypes(histories.values());
    expect(
      missing,
      `event types no fixture holds: ${missing.join(', ')}. Add a scenario that writes them to packages/testing/fixtures/workflows.ts, then run ${RECORD_COMMAND} (see fixtures/README.md).`,
    ).toEqual([]);
  });
});

/** The basics fixture workflow, changed: its code, not its name. */
function variant(fn: (n: number) => Promise<unknown>): WorkflowDefinition {
  return { ...basics.definition, fn } as WorkflowDefinition;
}

const renamedAdd = step('compat.add-renamed', async (a: number, b: number) => a + b);

describe('a changed workflow', () => {
  const history = histories.get(`${DURABLY_VERSION}/basics.history.json`)!;
  const firstOf = (position: string) => history.events.find((e) => e.correlationId === position)!;

  it('with its first step renamed diverges at that step\'s first event', async () => {
    const check = await replayHistory(variant(async (n) => renamedAdd(n, 1)), history);
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.divergence).toMatchObject({
      runId: history.run.runId,
      seq: firstOf('1').seq,
      eventType: 'step_started',
      position: '1',
      expected: 'step "compat.add"',
      got: 'step "compat.add-renamed"',
    });
    expect(check.divergence.message).toContain('patched(');
  });

  it('with a step removed in the middle diverges at the first call it no longer makes', async () => {
    const check = await replayHistory(
      variant(async (n) => {
        const sum = await add(n, 1);
        return double(sum); // the flaky step at #2 is gone
      }),
      history,
    );
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.divergence).toMatchObject({ seq: firstOf('2').seq, position: '2', expected: 'step "compat.flaky"', got: 'step "compat.double"' });
  });

  it('that makes a call more at the end diverges at the run_completed', async () => {
    const check = await replayHistory(
      variant(async (n) => {
        const result = await basics.definition.fn(n);
        await flaky('one more');
        return result;
      }),
      history,
    );
    expect(check.ok).toBe(false);
    if (check.ok) return;
    const last = history.events[history.events.length - 1];
    expect(check.divergence).toMatchObject({ seq: last.seq, eventType: 'run_completed' });
    expect(check.divergence.got).toMatch(/still waiting on step "compat.flaky" \(call #9\)/);
  });

  it('that returns another result diverges at the run_completed, showing both', async () => {
    const check = await replayHistory(
      variant(async (n) => ({ ...((await basics.definition.fn(n)) as object), extra: true })),
      history,
    );
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.divergence.eventType).toBe('run_completed');
    expect(check.divergence.expected).not.toContain('extra');
    expect(check.divergence.got).toContain('extra');
  });

  it('of another workflow is refused, naming both', async () => {
    await expect(replayHistory(getWorkflow('compat.failing')!, history)).rejects.toThrow(/run of workflow "compat.basics", not of "compat.failing"/);
  });

  it('reads a history from its file, and refuses a file that is not one', async () => {
    expect(await replayHistory(basics, join(historiesDir, DURABLY_VERSION, 'basics.history.json'))).toEqual({ ok: true });
    await expect(replayHistory(basics, join(here, 'compat.test.ts'))).rejects.toThrow(/is not JSON/);
    await expect(replayHistory(basics, { ...history, formatVersion: 99 })).rejects.toThrow(/format version 99.*Upgrade @durably\/core/);
  });
});
