import type { SQSClient } from '@aws-sdk/client-sqs';
import { BrokerError, DurablyError } from '@durably/contracts';

/**
 * The SQS client of one broker: every call goes through `send`, which counts requests by operation
 * (SQS bills per request, a batch of up to 10 being one) and wraps driver errors in BrokerError with
 * where the broker points, unless the caller reads them (a missing queue, say).
 */
export class Sqs {
  readonly requests: Record<string, number> = {};
  closed = false;

  constructor(
    readonly client: SQSClient,
    readonly where: string,
  ) {}

  /** Requests sent so far, all operations. */
  get total(): number {
    return Object.values(this.requests).reduce((a, b) => a + b, 0);
  }

  wrap(what: string, err: unknown): Error {
    if (err instanceof DurablyError) return err;
    const e = err as { name?: string; message?: string };
    return new BrokerError(`SQS (${this.where}) failed to ${what}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`, { cause: err });
  }

  async send<O>(what: string, command: { input: object; constructor: { name: string } }, options: { pass?: string[]; abortSignal?: AbortSignal } = {}): Promise<O> {
    if (this.closed) throw new BrokerError('This SqsBroker is closed.');
    const op = command.constructor.name.replace(/Command$/, '');
    this.requests[op] = (this.requests[op] ?? 0) + 1;
    try {
      return (await this.client.send(command as never, { abortSignal: options.abortSignal })) as O;
    } catch (err) {
      if (options.pass?.includes((err as { name?: string }).name ?? '')) throw err;
      throw this.wrap(what, err);
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
