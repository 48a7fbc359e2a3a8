import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@durably/core';
import { brokerOptionsFromUrl, sqsQueueName, storageOptionsFromUrl } from '../../src/index.js';

describe('SQS queue names', () => {
  it('maps Durably queue names one to one onto SQS names of at most 80 characters', () => {
    const queues = ['durably.default', 'durably_default', 'durably-default', 'a.b', 'a_b', 'a__b', 'a_-b', 'a._b', 'x'.repeat(100), `${'x'.repeat(99)}y`, 'q_dlq', 'q'];
    const names = new Set<string>();
    for (const q of queues) {
      for (const dlq of [false, true]) {
        for (const fifo of [false, true]) {
          const name = sqsQueueName('app', q, { dlq, fifo });
          expect(name.length, name).toBeLessThanOrEqual(80);
          expect(name, name).toMatch(fifo ? /^[A-Za-z0-9_-]+\.fifo$/ : /^[A-Za-z0-9_-]+$/);
          names.add(name);
        }
      }
    }
    expect(names.size).toBe(queues.length * 4);
    expect(sqsQueueName('app', 'durably.default')).toBe('app_durably_-default');
    expect(sqsQueueName('app', 'q', { dlq: true })).not.toBe(sqsQueueName('app', 'q_dlq'));
  });

  it('refuses a prefix SQS or the mapping cannot take', () => {
    expect(() => brokerOptionsFromUrl('sqs://has_underscore?region=eu-west-1')).toThrow(InvalidArgumentError);
    expect(() => brokerOptionsFromUrl(`sqs://${'p'.repeat(41)}`)).toThrow(InvalidArgumentError);
  });
});

describe('URLs', () => {
  it('reads sqs:// and dynamodb:// URLs, and names what is wrong in a bad one', () => {
    expect(brokerOptionsFromUrl('sqs://orders-prod?region=eu-west-1&endpoint=http://127.0.0.1:4566&fifo=true&wait=5&maxReceiveCount=30')).toEqual({
      prefix: 'orders-prod',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4566',
      fifo: true,
      waitSeconds: 5,
      maxReceiveCount: 30,
    });
    expect(storageOptionsFromUrl('dynamodb://Durably_Runs.prod?region=eu-west-1&endpoint=http://127.0.0.1:8000&shards=8&create=false')).toEqual({
      table: 'Durably_Runs.prod',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:8000',
      shards: 8,
      createTable: false,
    });
    expect(() => storageOptionsFromUrl('dynamodb://ab')).toThrow(/table name/);
    expect(() => storageOptionsFromUrl('dynamodb://runs?regoin=eu-west-1')).toThrow(/Unknown parameter "regoin"/);
    expect(() => storageOptionsFromUrl('dynamodb://runs?shards=0')).toThrow(/shards/);
    expect(() => brokerOptionsFromUrl('sqs://app?fifo=yes')).toThrow(/fifo/);
  });
});
