/**
 * The bench shapes for Vercel Workflow, in its own syntax ("use workflow" / "use step"). Built by
 * `workflow build` (offline: its SWC plugin ships in the npm package) when the bench runs them.
 */
async function noop(payload: string) {
  'use step';
  return payload;
}

async function stamp() {
  'use step';
  return performance.timeOrigin + performance.now();
}

export async function threeSteps(payload: string) {
  'use workflow';
  await noop(payload);
  await noop(payload);
  return noop(payload);
}

export async function longChain(steps: number) {
  'use workflow';
  const stamps: number[] = [];
  for (let i = 0; i < steps; i++) stamps.push(await stamp());
  return stamps;
}
