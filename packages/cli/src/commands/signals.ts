import type { Command } from 'commander';
import { examples, parseJson, withSession } from './common.js';

export function registerSignals(program: Command): void {
  const signals = program.command('signals').description('Send signals to runs.');
  signals
    .command('send')
    .description('Send a named signal to a run; a waitForSignal(name) in it receives the payload (buffered until then).')
    .argument('<runId>', 'the run')
    .argument('<name>', 'the signal name')
    .option('-p, --payload <json>', 'the payload (JSON)', 'null')
    .addHelpText('after', examples(`durably signals send 0b6e4c2a-... note --payload '"looks fine"'`))
    .action(
      withSession(async (session, runId: string, name: string, opts: { payload: string }) => {
        const payload = parseJson(opts.payload, '--payload');
        const client = await session.client();
        await client.sendSignal(runId, name, payload);
        session.out.result({ runId, signal: name, sent: true }, () => `signal "${name}" sent to run ${runId}`);
      }),
    );
}
