import type { ComponentChildren } from 'preact';
import type { RenderedValue } from '../../shared/api-types.js';
import { ErrorBlock } from './error-view.js';

/**
 * A stored value, pretty-printed with its types: strings quoted, Dates and BigInts marked, Maps
 * and Sets as such. Objects and arrays nest in <details> (open to a few levels), so the keyboard
 * folds and unfolds them like any disclosure.
 */
export function Value({ value, depth = 0 }: { value: RenderedValue; depth?: number }) {
  return <code class="value">{renderNode(value, depth)}</code>;
}

const INLINE_CHARS = 72;

/** The length of a value written on one line, or Infinity past `limit` (or when it cannot be inline). */
function inlineLength(v: RenderedValue, limit = INLINE_CHARS): number {
  switch (v.type) {
    case 'string':
      return v.truncated !== undefined ? Infinity : v.value.length + 2;
    case 'error':
    case 'unreadable':
      return Infinity;
    case 'bytes':
      return v.kind.length + 4 + v.hex.length * 1.5;
    case 'array':
    case 'set':
    case 'object':
    case 'map': {
      if (v.more !== undefined) return Infinity;
      let n = 4 + (v.type === 'set' || v.type === 'map' ? 7 : 0);
      const parts: RenderedValue[] = v.type === 'object' ? v.entries.map(([, x]) => x) : v.type === 'map' ? v.entries.flat() : v.items;
      if (v.type === 'object') n += v.entries.reduce((sum, [k]) => sum + k.length + 2, 0);
      for (const p of parts) {
        n += inlineLength(p, limit - n) + 2;
        if (n > limit) return Infinity;
      }
      return n;
    }
    default:
      return 'value' in v ? String(v.value).length + 6 : 8;
  }
}

function joined(items: ComponentChildren[]): ComponentChildren[] {
  return items.flatMap((item, i) => (i === 0 ? [item] : [', ', item]));
}

/** A short collection on one line: { id: "o-1", items: ["a", "b"] }. */
function renderInline(v: RenderedValue & { type: 'array' | 'set' | 'object' | 'map' }, depth: number): ComponentChildren {
  switch (v.type) {
    case 'array':
      return <span>[{joined(v.items.map((x) => renderNode(x, depth + 1)))}]</span>;
    case 'set':
      return <span>Set({v.items.length}) {'{'}{joined(v.items.map((x) => renderNode(x, depth + 1)))}{'}'}</span>;
    case 'map':
      return (
        <span>
          Map({v.entries.length}) {'{'}
          {joined(v.entries.map(([k, x]) => <>{renderNode(k, depth + 1)} =&gt; {renderNode(x, depth + 1)}</>))}
          {'}'}
        </span>
      );
    case 'object':
      return (
        <span>
          {'{ '}
          {joined(
            v.entries.map(([k, x]) => (
              <>
                <span class="v-key">{keyText(k)}</span>: {renderNode(x, depth + 1)}
              </>
            )),
          )}
          {' }'}
        </span>
      );
  }
}

function keyText(k: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k);
}

function renderNode(v: RenderedValue, depth: number): ComponentChildren {
  if ((v.type === 'array' || v.type === 'set' || v.type === 'object' || v.type === 'map') && inlineLength(v) <= INLINE_CHARS) return renderInline(v, depth);
  switch (v.type) {
    case 'undefined':
      return <span class="v-null">undefined</span>;
    case 'null':
      return <span class="v-null">null</span>;
    case 'boolean':
      return <span class="v-bool">{String(v.value)}</span>;
    case 'number':
      return <span class="v-num">{v.value}</span>;
    case 'bigint':
      return <span class="v-num">{v.value}n</span>;
    case 'string':
      return (
        <span class="v-str">
          {JSON.stringify(v.value)}
          {v.truncated !== undefined && <span class="v-note"> (first {v.value.length} of {v.truncated} characters)</span>}
        </span>
      );
    case 'date':
      return <span class="v-date">Date({v.value})</span>;
    case 'regexp':
      return <span class="v-str">{v.value}</span>;
    case 'bytes':
      return (
        <span class="v-other">
          {v.kind}({v.length}) {v.hex.replace(/(..)/g, '$1 ').trim()}
          {v.length * 2 > v.hex.length && ' …'}
        </span>
      );
    case 'ref':
      return <span class="v-note">[same as {v.path}]</span>;
    case 'other':
      return <span class="v-other">{v.value}</span>;
    case 'unreadable':
      return (
        <span class="v-bad">
          unreadable value ({v.reason}): {v.raw}
        </span>
      );
    case 'error':
      return <ErrorBlock error={v.error} />;
    case 'array':
      return collection('', ['[', ']'], v.items.map((item, i) => <li key={i}>{renderNode(item, depth + 1)}</li>), v.more, 'items', depth);
    case 'set':
      return collection(`Set(${v.items.length + (v.more ?? 0)}) `, ['{', '}'], v.items.map((item, i) => <li key={i}>{renderNode(item, depth + 1)}</li>), v.more, 'items', depth);
    case 'object':
      return collection(
        '',
        ['{', '}'],
        v.entries.map(([k, item]) => (
          <li key={k}>
            <span class="v-key">{keyText(k)}</span>: {renderNode(item, depth + 1)}
          </li>
        )),
        v.more,
        'entries',
        depth,
      );
    case 'map':
      return collection(
        `Map(${v.entries.length + (v.more ?? 0)}) `,
        ['{', '}'],
        v.entries.map(([k, item], i) => (
          <li key={i}>
            {renderNode(k, depth + 1)} <span class="v-note">=&gt;</span> {renderNode(item, depth + 1)}
          </li>
        )),
        v.more,
        'entries',
        depth,
      );
  }
}

function collection(prefix: string, [open, close]: [string, string], items: ComponentChildren[], more: number | undefined, noun: string, depth: number): ComponentChildren {
  if (items.length === 0) return <span>{`${prefix}${open}${close}`}</span>;
  return (
    <details class="v-coll" open={depth < 3}>
      <summary>
        {prefix}
        {open}
        <span class="v-note">
          {' '}
          {items.length + (more ?? 0)} {items.length + (more ?? 0) === 1 ? noun.replace(/s$/, '').replace(/ie$/, 'y') : noun}{' '}
        </span>
      </summary>
      <ul>
        {items}
        {more !== undefined && <li class="v-note">… {more} more not shown</li>}
      </ul>
      {close}
    </details>
  );
}
