/**
 * The source: a paginated "orders API" (generated rows, the same for the same ids), as the extract
 * step would call a real one with a cursor.
 */
export interface SourceRow {
  id: number;
  customer: string;
  amountCents: number;
  currency: 'USD' | 'EUR' | 'GBP';
}

export interface Page {
  rows: SourceRow[];
  /** Cursor of the next page; null after the last one. */
  next: number | null;
}

const CURRENCIES = ['USD', 'EUR', 'GBP'] as const;

export async function fetchPage(totalRows: number, cursor: number, pageSize: number, delayMs = 0): Promise<Page> {
  await new Promise((r) => setTimeout(r, delayMs || 5));
  const rows: SourceRow[] = [];
  for (let id = cursor + 1; id <= Math.min(totalRows, cursor + pageSize); id++) {
    rows.push({ id, customer: `customer-${(id * 7919) % 97}`, amountCents: ((id * 104729) % 90_000) + 500, currency: CURRENCIES[id % 3] });
  }
  const end = cursor + rows.length;
  return { rows, next: end < totalRows ? end : null };
}
