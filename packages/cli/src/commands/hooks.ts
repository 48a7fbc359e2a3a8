import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { loadWorkflows } from '../loader.js';
import { examples, parseJson, withSession } from './common.js';

export function registerHooks(program: Command): void {
  const hooks = program.command('hooks').description('Resume hooks that runs wait on.');
  hooks
    .command('resume')
    .description(
      'Resume the hook with this token: the waiting run receives the payload. "-" reads the token from stdin (keeps it out of shell history). With the config\'s `workflows`, the hook\'s schema checks the payload first (a refused payload exits 2, writing nothing).',
    )
    .argument('<token>', 'the hook token, or - to read it from stdin')
    .option('-p, --payload <json>', 'the payload (JSON)', 'null')
    .option('--no-load', "do not import the config's workflow modules (resume unchecked)")
    .addHelpText('after', examples(`durably hooks resume 3q2-x7... --payload '{"approved": true, "by": "ana"}'`, `echo "$TOKEN" | durably hooks resume - --payload '{"approved": false}'`))
    .action(
      withSession(async (session, token: string, opts: { payload: string; load: boolean }) => {
        const value = token === '-' ? readFileSync(0, 'utf8').trim() : token;
        const payload = parseJson(opts.payload, '--payload');
        // Importing the app's modules registers its hook definitions: resumeHook checks the payload with their schemas.
        if (opts.load && session.resolved.workflows.length > 0) await loadWorkflows(session.resolved.workflows);
        const client = await session.client();
        const { runId } = await client.resumeHook(value, payload);
        // The token resumes the run: it is not logged, only the run it belonged to.
        session.out.result({ runId, resumed: true }, () => `hook resumed; run ${runId} continues`);
      }),
    );
}
