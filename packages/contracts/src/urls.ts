import { InvalidUrlError } from './errors.js';
import { redactUrl } from './redact-url.js';

export { redactUrl };

/**
 * Parses the URL of a server backend (`postgres://`, `redis://`...). WHATWG's URL parser only says
 * "Invalid URL"; this names the part at fault (the port, the host, the user and password) in an
 * InvalidUrlError, with the password hidden and an example of the expected form.
 */
export function parseServerUrl(url: string, example: string): URL {
  if (typeof url !== 'string') throw new InvalidUrlError(String(url), 'url', 'a URL must be a string', example);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    const [part, detail] = diagnose(url);
    throw new InvalidUrlError(redactUrl(url), part, detail, example, { cause: err });
  }
  // "postgres:/host/db" parses (as a path with no host), and the driver would then try its default host.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)![0];
  if (!url.slice(scheme.length).startsWith('//')) {
    throw new InvalidUrlError(redactUrl(url), 'scheme', `"${scheme}" must be followed by "//" and the host`, example);
  }
  return parsed;
}

function diagnose(url: string): [InvalidUrlError['part'], string] {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!scheme) return ['scheme', 'it does not start with a scheme and "://"'];
  const rest = url.slice(scheme[0].length);
  if (!rest.startsWith('//')) return ['scheme', `"${scheme[0]}" must be followed by "//" and the host`];
  const afterSlashes = rest.slice(2);
  // The user and password end at the last "@" (an unencoded "@" or "/" in a password is a common mistake).
  const at = afterSlashes.lastIndexOf('@');
  const userinfo = at >= 0 ? afterSlashes.slice(0, at) : '';
  const hostAndPath = at >= 0 ? afterSlashes.slice(at + 1) : afterSlashes;
  if (/[/?#\s]/.test(userinfo)) {
    return ['userinfo', 'the user or password contains "/", "?", "#" or a space: percent-encode them (encodeURIComponent)'];
  }
  const hostPort = /^[^/?#]*/.exec(hostAndPath)![0];
  let host = hostPort;
  let port: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) return ['host', `the IPv6 host "${hostPort}" has no closing "]"`];
    host = hostPort.slice(0, close + 1);
    const after = hostPort.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return ['host', `unexpected "${after}" after the IPv6 host ${host}`];
    if (after.startsWith(':')) port = after.slice(1);
  } else {
    const colon = hostPort.lastIndexOf(':');
    if (colon >= 0) {
      host = hostPort.slice(0, colon);
      port = hostPort.slice(colon + 1);
    }
  }
  if (port !== undefined && port !== '') {
    if (!/^\d+$/.test(port)) return ['port', `the port "${port}" is not a number`];
    if (Number(port) < 1 || Number(port) > 65535) return ['port', `the port ${port} is not between 1 and 65535`];
  }
  if (host === '') return ['host', 'it has no host (nothing between "@" or "//" and the port or path)'];
  if (/[\s<>\\^`{|}%]/.test(host) && !host.startsWith('[')) return ['host', `the host "${host}" contains characters a host name cannot have`];
  if (host.startsWith('[')) return ['host', `the IPv6 host ${host} is not a valid address`];
  return ['url', 'it is not a valid URL'];
}
