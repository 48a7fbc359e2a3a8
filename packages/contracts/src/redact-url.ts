/** Hides the password of a URL before it is shown in a message or a log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not parseable (a message about that very URL, say): hide what lies between "user:" and the last "@".
    const start = url.indexOf('//');
    const at = url.lastIndexOf('@');
    if (start < 0 || at < start) return url;
    const colon = url.indexOf(':', start + 2);
    return colon >= 0 && colon < at ? `${url.slice(0, colon + 1)}***${url.slice(at)}` : url;
  }
}
