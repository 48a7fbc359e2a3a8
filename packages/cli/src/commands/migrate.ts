import type { Command } from 'commander';
import { storageAdapterFor } from '@durably/core';
import { CliError, EXIT } from '../exit-codes.js';
import { examples, withSession } from './common.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('Create or upgrade the schema of storage and broker (idempotent; workers also do it on start).')
    .option('--print-sql', 'print the SQL instead of running it (Postgres), for review or a DBA to apply; connects to nothing')
    .addHelpText('after', examples('durably migrate', 'durably migrate --storage postgres://app@db/prod?schema=durably --print-sql > durably.sql'))
    .action(
      withSession(async (session, opts: { printSql?: boolean }) => {
        if (opts.printSql) {
          const url = session.resolved.storage.value;
          const found = typeof url === 'string' ? await storageAdapterFor(url) : undefined;
          if (!found?.adapter.migrationSql) {
            throw new CliError(`--print-sql prints the SQL of a SQL storage (postgres://); the storage ${typeof url === 'string' ? url.split(':')[0] + ':' : 'instance'} is migrated by \`durably migrate\` (or on first use) and has no script to print.`, EXIT.usage);
          }
          process.stdout.write(await found.adapter.migrationSql(url as string));
          return;
        }
        const progress = session.out.progress('migrating storage and broker...');
        const client = await session.client();
        progress.done();
        session.out.result({ storage: client.addresses.storage, broker: client.addresses.broker, migrated: true }, () => `storage ${client.addresses.storage} and broker ${client.addresses.broker} are migrated`);
      }),
    );
}
