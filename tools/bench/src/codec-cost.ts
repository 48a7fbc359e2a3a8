/**
 * What the payload codec costs: B2 (one run of sequential steps) and B1 (workflows of 3 steps at a
 * concurrency) with and without `aesGcmCodec`, interleaved round by round (plain, encrypted, plain,
 * ...) so load changes on a shared machine fall on both sides, and the codec alone per payload size.
 * Reports each figure's median and range across rounds, and the per-step overhead per round.
 *
 *   npm run codec -w @durably/bench -- --backend local --steps 200 --runs 100 --rounds 3
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { aesGcmCodec, serialize, type PayloadCodec } from '@durably/core';
import { BACKENDS, b1, b2, type Row } from './shapes.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', multiple: true, default: ['memory', 'local'] },
    steps: { type: 'string', default: '200' },
    runs: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
  },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const runs = Number(values.runs);
const aes = aesGcmCodec({ keys: { bench: randomBytes(32) } });
/** The codec, counting its calls: the codec work a step costs is its calls per step times the codec's cost alone. */
const calls = { encode: 0, decode: 0 };
const codec: PayloadCodec = {
  name: aes.name,
  currentKeyId: aes.currentKeyId,
  keyIds: aes.keyIds,
  encode: (text) => (calls.encode++, aes.encode(text)),
  decode: (text) => (calls.decode++, aes.decode(text)),
};
/** Calls per step of one measured run of `fn` (warm-up included, so an upper bound). */
async function counted<T>(stepsDone: number, fn: () => Promise<T>): Promise<{ value: T; perStep: string }> {
  calls.encode = 0;
  calls.decode = 0;
  const value = await fn();
  return { value, perStep: `${(calls.encode / stepsDone).toFixed(1)} encodes + ${(calls.decode / stepsDone).toFixed(1)} decodes per step` };
}

const spread = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};
const show = (xs: number[], digits = 3) => {
  const { median, min, max } = spread(xs);
  return `${median.toFixed(digits)} (${min.toFixed(digits)}-${max.toFixed(digits)})`;
};
const metric = (rows: Row[], name: string) => rows.find((r) => r.metric === name)!.value;

/** The codec alone: encode + decode of one payload of each size, in microseconds. */
function codecAlone(c: PayloadCodec): void {
  for (const bytes of [100, 1_000, 10_000, 100_000]) {
    const text = serialize({ data: 'x'.repeat(bytes) });
    const n = Math.max(200, Math.floor(2_000_000 / bytes));
    const samples: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) c.decode(c.encode(text) as string);
      samples.push(((performance.now() - t0) * 1000) / n);
    }
    const grown = (c.encode(text) as string).length / text.length;
    console.log(`codec alone, ${bytes} B payload: encode+decode ${show(samples, 1)} us, stored size x${grown.toFixed(2)}`);
  }
}

codecAlone(aes);
for (const name of values.backend) {
  const backend = BACKENDS[name];
  if (!backend) throw new Error(`Unknown backend "${name}"; use one of ${Object.keys(BACKENDS).join(', ')}.`);
  const b2Plain: number[] = [];
  const b2Sealed: number[] = [];
  const b1Plain: number[] = [];
  const b1Sealed: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    b2Plain.push(metric(await b2(backend, 'inline', steps), 'ms_per_step'));
    const sealed2 = await counted(steps, () => b2(backend, 'inline', steps, codec));
    b2Sealed.push(metric(sealed2.value, 'ms_per_step'));
    b1Plain.push(metric(await b1(backend, 'inline', runs, 20), 'steps_per_s'));
    const sealed1 = await counted((runs + Math.min(50, runs)) * 3, () => b1(backend, 'inline', runs, 20, codec));
    b1Sealed.push(metric(sealed1.value, 'steps_per_s'));
    if (round === 1) console.log(`${name}: codec calls, B2 ${sealed2.perStep}; B1 ${sealed1.perStep}`);
    console.log(`${name} round ${round}: B2 ${b2Plain.at(-1)!.toFixed(3)} / ${b2Sealed.at(-1)!.toFixed(3)} ms per step, B1 ${b1Plain.at(-1)!.toFixed(0)} / ${b1Sealed.at(-1)!.toFixed(0)} steps/s (plain / encrypted)`);
  }
  console.log(`${name} B2 ms per step (${steps} steps): plain ${show(b2Plain)}, encrypted ${show(b2Sealed)}, overhead per round ${show(b2Sealed.map((v, i) => v - b2Plain[i]))} ms`);
  console.log(`${name} B1 steps/s (${runs} workflows x 3 steps, concurrency 20): plain ${show(b1Plain, 0)}, encrypted ${show(b1Sealed, 0)}, ratio per round ${show(b1Sealed.map((v, i) => v / b1Plain[i]), 2)}`);
}
