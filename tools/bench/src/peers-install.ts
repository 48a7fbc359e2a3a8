/**
 * The peer systems (DBOS Transact, BullMQ, Vercel Workflow, Restate) are a project of their own in
 * tools/bench/peers, with its own package-lock.json, outside the root npm workspaces: the root
 * `npm install` does not fetch them (they are most of what it would install). The bench installs them
 * the first time it runs a peer, and again when their lockfile changes.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureInstalled } from '../../scripts/install-on-demand.mjs';
import type { Row } from './shapes.js';

export const PEERS_DIR = join(import.meta.dirname, '../peers');

export async function ensurePeers(): Promise<void> {
  ensureInstalled(PEERS_DIR, { label: "the bench's peer systems (DBOS Transact, BullMQ, Vercel Workflow, Restate)" });
}

/**
 * What the bench calls in peers/src. Typed here, not imported, so that the bench's own typecheck does
 * not need the peers installed; `npm run typecheck:peers -w @durably/bench` checks peers/src itself.
 */
export interface PeerModules {
  'peers.js': {
    dbos(shapes: Set<string>, b1Count: number, concurrency: number, b2Steps: number): Promise<Row[]>;
    bullmqB1(count: number, concurrency: number): Promise<Row[]>;
    bullmqB2(steps: number): Promise<Row[]>;
  };
  'restate.js': {
    restateShapes(shapes: Set<string>, count: number, concurrency: number, steps: number): Promise<Row[]>;
  };
  'vercel.js': {
    vercelWorkflow(shapes: Set<string>, count: number, concurrency: number, steps: number, maxMs: number, worlds: string[]): Promise<Row[]>;
  };
}

let ready: Promise<void> | undefined;

/** Installs the peers on first use, then loads one of their modules. */
export async function loadPeer<K extends keyof PeerModules>(file: K): Promise<PeerModules[K]> {
  ready ??= ensurePeers();
  await ready;
  return (await import(pathToFileURL(join(PEERS_DIR, 'src', file)).href)) as PeerModules[K];
}
