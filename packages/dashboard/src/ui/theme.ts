/**
 * Light and dark themes. With no choice made the page follows the system (prefers-color-scheme, in
 * CSS); a choice is kept in localStorage and set as data-theme on <html>, which the CSS obeys.
 */
export type Theme = 'light' | 'dark';
const KEY = 'durably-dashboard-theme';

export function storedTheme(): Theme | undefined {
  const v = localStorage.getItem(KEY);
  return v === 'light' || v === 'dark' ? v : undefined;
}

export function currentTheme(): Theme {
  return storedTheme() ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
}

export function applyStoredTheme(): void {
  const t = storedTheme();
  if (t) document.documentElement.dataset.theme = t;
}

export function setTheme(theme: Theme): void {
  localStorage.setItem(KEY, theme);
  document.documentElement.dataset.theme = theme;
}
