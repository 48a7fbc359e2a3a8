import type { Command } from 'commander';
import { loadWorkflows } from '../loader.js';
import { preview } from '../output.js';
import { examples, parseJson, withSession } from './common.js';

export function registerUpdates(program: Command): void {
  const updates = program.command('updates').description('Send updates to runs and print their answers.');
  updates
    .command('send')
    .description(
      "Send a named update to a run and wait for its handler's answer. With the config's `workflows`, the update's schema and validate check the payload first (a refused payload exits 2, writing only the rejection).",
    )
    .argument('<runId>', 'the run')
    .argument('<name>', 'the update name')
    .option('-p, --payload <json>', 'the payload (JSON)', 'null')
    .option('--update-id <id>', 'names this update: sent again with the same id, it is not delivered twice and prints the recorded answer')
    .option('--timeout <duration>', 'give up waiting for the answer after this long (exit 8; the update stays delivered)')
    .option('--no-load', "do not import the config's workflow modules (send unchecked)")
    .addHelpText('after', examples(`durably updates send 0b6e4c2a-... amend --payload '{"amount": 120, "reason": "refund"}'`, `durably updates send 0b6e4c2a-... amend --payload '{"amount": 120}' --update-id amend-42 --timeout 30s --json`))
    .action(
      withSession(async (session, runId: string, name: string, opts: { payload: string; updateId?: string; timeout?: string; load: boolean }) => {
        const payload = parseJson(opts.payload, '--payload');
        // Importing the app's modules registers its update definitions: client.update(runId, name) checks with them.
        if (opts.load && session.resolved.workflows.length > 0) await loadWorkflows(session.resolved.workflows);
        const client = await session.client();
        const result = await client.update(runId, name, payload, { updateId: opts.updateId, timeout: opts.timeout });
        session.out.result({ runId, update: name, result }, () => [`update "${name}" answered by run ${runId}:`, preview(result, 2000)]);
      }),
    );
}
