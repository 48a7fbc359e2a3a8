import type { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import type { CallbackSender } from '../src/index.js';

/**
 * A CallbackSender that delivers resumeHook's SendDurableExecutionCallbackSuccess to the local
 * runner's callback operation instead of AWS: the same command resumeHook sends in production,
 * checked to name that operation's callback id.
 */
export function localCallbacks(runner: LocalDurableTestRunner, operationName: string): CallbackSender & { sent: number } {
  const sender = {
    sent: 0,
    async send(command: Parameters<CallbackSender['send']>[0]) {
      const operation = runner.getOperation(operationName);
      const callbackId = operation.getCallbackDetails()?.callbackId;
      if (command.input.CallbackId !== callbackId) throw new Error(`callback id ${command.input.CallbackId} is not ${operationName}'s (${callbackId})`);
      sender.sent++;
      const input = command.input;
      if ('Error' in input) return operation.sendCallbackFailure(input.Error);
      const result = (input as { Result?: string | Uint8Array }).Result;
      return operation.sendCallbackSuccess(typeof result === 'string' || result === undefined ? result : new TextDecoder().decode(result as Uint8Array));
    },
  };
  return sender;
}
