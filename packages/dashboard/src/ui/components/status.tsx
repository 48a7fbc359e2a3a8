/** A run, step or schedule status as a coloured label (text, not colour alone, carries the meaning). */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status.replace('_', ' ')}</span>;
}
