import { useState } from 'preact/hooks';
import type { HookView } from '../../shared/api-types.js';
import { postJson } from '../api.js';
import { DoneNotice, ErrorNotice } from '../components/notice.js';
import { formatTime } from '../format.js';

/** Parses the JSON a person typed; empty means "no payload" (undefined). */
function parsePayload(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  if (text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: `The payload is not valid JSON: ${(err as Error).message}` };
  }
}

function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const run = async (what: () => Promise<string>) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      setDone(await what());
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, done, run, setError };
}

export function CancelRun({ runId, onDone }: { runId: string; onDone: () => void }) {
  const action = useAction();
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState('');
  if (!confirming) {
    return (
      <div class="action">
        <button type="button" class="danger" onClick={() => setConfirming(true)}>
          Cancel run…
        </button>
        <DoneNotice message={action.done} />
      </div>
    );
  }
  return (
    <form
      class="action action-confirm"
      aria-label="Cancel this run"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(async () => {
          await postJson(`/api/runs/${encodeURIComponent(runId)}/cancel`, reason.trim() ? { reason: reason.trim() } : {});
          setConfirming(false);
          onDone();
          return 'Cancel requested: the run stops at its current await.';
        });
      }}
    >
      <label>
        Reason (optional)
        <input value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} autoFocus />
      </label>
      <button type="submit" class="danger" disabled={action.busy}>
        Confirm cancel
      </button>
      <button type="button" class="secondary" onClick={() => setConfirming(false)}>
        Keep running
      </button>
      <ErrorNotice error={action.error} />
    </form>
  );
}

export function ResumeHook({ runId, hook, onDone }: { runId: string; hook: HookView; onDone: () => void }) {
  const action = useAction();
  const [text, setText] = useState('{}');
  const id = `hook-payload-${hook.correlationId.replace(/[^A-Za-z0-9]/g, '-')}`;
  return (
    <form
      class="action hook-form"
      aria-label={`Resume hook ${hook.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        const parsed = parsePayload(text);
        if (!parsed.ok) {
          action.setError(new Error(parsed.message));
          return;
        }
        void action.run(async () => {
          await postJson(`/api/runs/${encodeURIComponent(runId)}/hooks/resume`, { correlationId: hook.correlationId, payload: parsed.value });
          onDone();
          return `Hook ${hook.name} resumed.`;
        });
      }}
    >
      <label for={id}>
        Payload for <strong>{hook.name}</strong> (JSON)
      </label>
      <textarea id={id} rows={4} spellcheck={false} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      {hook.expiresAt !== undefined && <p class="muted small">Expires {formatTime(hook.expiresAt)}</p>}
      <button type="submit" disabled={action.busy}>
        Resume hook
      </button>
      <ErrorNotice error={action.error} />
      <DoneNotice message={action.done} />
    </form>
  );
}

export function SendSignal({ runId, onDone }: { runId: string; onDone: () => void }) {
  const action = useAction();
  const [name, setName] = useState('');
  const [text, setText] = useState('');
  return (
    <form
      class="action signal-form"
      aria-label="Send a signal"
      onSubmit={(e) => {
        e.preventDefault();
        const parsed = parsePayload(text);
        if (!parsed.ok) {
          action.setError(new Error(parsed.message));
          return;
        }
        void action.run(async () => {
          await postJson(`/api/runs/${encodeURIComponent(runId)}/signals`, { name: name.trim(), payload: parsed.value });
          onDone();
          return `Signal ${name.trim()} sent.`;
        });
      }}
    >
      <label>
        Signal name
        <input value={name} required onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        Payload (JSON, optional)
        <textarea rows={2} spellcheck={false} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      </label>
      <button type="submit" disabled={action.busy || name.trim() === ''}>
        Send signal
      </button>
      <ErrorNotice error={action.error} />
      <DoneNotice message={action.done} />
    </form>
  );
}
