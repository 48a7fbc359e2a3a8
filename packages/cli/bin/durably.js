#!/usr/bin/env node
// The durably command. TypeScript is loaded through tsx's module hooks (registered once, here):
// apps' durably.config.ts and workflow modules are TypeScript more often than not, and workflows
// must load into this process's module graph so that they register with the same @durably/core.
const hasTsLoader = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => /\btsx\b/.test(a));
if (!hasTsLoader) (await import('tsx/esm/api')).register();
const { main } = await import('#main');
await main(process.argv);
