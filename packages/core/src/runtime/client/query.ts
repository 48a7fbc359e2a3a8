import {
  deserialize,
  InvalidArgumentError,
  QueryFailedError,
  QueryNotRegisteredError,
  RunNotFoundError,
  serialize,
  type Storage,
} from '@durably/contracts';
import { validateArgs, type QueryDefinition, type Workflow } from '../../engine/definitions.js';
import { Execution, type ExecutionDeps } from '../../engine/execution.js';
import { createLogger } from '../../logger.js';

/**
 * A query, answered by replaying the run's log in this process: no step runs and nothing is written,
 * so any process with the workflow's code (the version that wrote the log) can answer it.
 *
 * The arguments are checked by the query's schema and copied through a serialization round trip
 * first, so the handler sees what it would see had they come from another process (the dashboard,
 * the CLI), and an argument that cannot be stored or sent fails here with SerializationError.
 */
export async function answerQuery<T, A extends unknown[]>(
  from: { storage: Storage; clock: () => number },
  wf: Workflow<any[], any>,
  runId: string,
  query: QueryDefinition<T, A>,
  args: unknown[],
): Promise<T> {
  const what = `query "${query.name}"`;
  const checked = validateArgs(query.schema, deserialize<unknown[]>(serialize(args, `the arguments of ${what}`)), what);
  const run = await from.storage.getRun(runId);
  if (!run) throw new RunNotFoundError(runId);
  if (run.workflow !== wf.definition.name) {
    throw new InvalidArgumentError(`query(): run ${runId} is a run of "${run.workflow}", not of "${wf.definition.name}".`);
  }
  const readOnly: ExecutionDeps = {
    storage: from.storage,
    logger: createLogger('silent'),
    workerId: 'query',
    clock: from.clock,
    inlineRetryMaxMs: 0,
    runsInline: () => false,
    runAttempt: async () => ({ ok: false, error: new Error('queries run no steps') }),
    afterFlush: async () => undefined,
    readOnly: true,
  };
  const execution = new Execution(run, wf.definition, readOnly);
  await execution.feed(await from.storage.readEvents(runId));
  let answer: { found: boolean; value?: unknown };
  try {
    answer = execution.answerQuery(query.name, checked);
  } catch (err) {
    throw new QueryFailedError(runId, query.name, err);
  }
  if (!answer.found) throw new QueryNotRegisteredError(runId, query.name, execution.queryNames());
  return answer.value as T;
}
