import type { ErrorView } from '../../shared/api-types.js';

/** An error with its name, code and message, its stack behind a disclosure, and its causes. */
export function ErrorBlock({ error, open = false }: { error: ErrorView; open?: boolean }) {
  return (
    <div class="error-block" role="group" aria-label={`Error ${error.name}`}>
      <p class="error-head">
        <strong>{error.name}</strong>
        {error.code && <span class="badge badge-muted">{error.code}</span>}
        {error.fatal && <span class="badge badge-failed">not retried</span>}
        <span class="error-message">{error.message}</span>
      </p>
      {error.stack && (
        <details open={open}>
          <summary>Stack trace</summary>
          <pre class="stack">{error.stack}</pre>
        </details>
      )}
      {error.cause && (
        <div class="error-cause">
          <span class="v-note">caused by</span>
          <ErrorBlock error={error.cause} />
        </div>
      )}
    </div>
  );
}
