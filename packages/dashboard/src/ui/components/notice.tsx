import { ApiRequestError } from '../api.js';

/** A failed request, said plainly (role=alert: screen readers announce it). */
export function ErrorNotice({ error }: { error?: Error }) {
  if (!error) return null;
  const code = error instanceof ApiRequestError ? error.code : undefined;
  return (
    <p class="notice notice-error" role="alert">
      {code && <strong>{code}: </strong>}
      {error.message}
    </p>
  );
}

/** The outcome of an action (role=status: announced without moving focus). */
export function DoneNotice({ message }: { message?: string }) {
  return (
    <p class="notice notice-ok" role="status">
      {message ?? ''}
    </p>
  );
}
