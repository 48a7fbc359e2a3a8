import { InvalidArgumentError } from './errors.js';
import { RUN_STATUSES, type RunFilter } from './storage.js';

/**
 * Checks a listRuns filter before it reaches a storage: a status that is not one (a typo such as
 * `'complete'`) or a time that is not a number would match nothing, silently. Returns the filter;
 * throws `InvalidArgumentError` naming the field, the value and what is accepted. (Names, ids and
 * tags are values to match, any string: a storage never reads them as SQL or a key pattern.)
 */
export function checkRunFilter(filter: RunFilter, owner: string): RunFilter {
  if (filter === null || typeof filter !== 'object') throw new InvalidArgumentError(`${owner}: the filter must be an object, got ${JSON.stringify(filter)}.`);
  if (filter.status !== undefined) {
    for (const status of Array.isArray(filter.status) ? filter.status : [filter.status]) {
      if (!RUN_STATUSES.includes(status)) {
        throw new InvalidArgumentError(`${owner}: status ${JSON.stringify(status)} is invalid: use one of ${RUN_STATUSES.map((s) => `"${s}"`).join(', ')}, or an array of them.`);
      }
    }
  }
  for (const key of ['createdAfter', 'createdBefore', 'updatedBefore'] as const) {
    const value = filter[key];
    if (value !== undefined && !Number.isFinite(value)) {
      throw new InvalidArgumentError(`${owner}: "${key}" must be a time in epoch milliseconds (a finite number), got ${JSON.stringify(value)}.`);
    }
  }
  return filter;
}
