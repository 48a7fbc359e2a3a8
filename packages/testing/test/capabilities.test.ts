import { describe, expect, it } from 'vitest';
import { FULL_CAPABILITIES, resolveCapabilities, undeclaredAbsence } from '../src/capabilities.js';
import { brokerCapabilities } from '../src/broker/suite.js';

describe('suite capabilities', () => {
  it('assumes full conformance for what is not declared, and keeps what is', () => {
    expect(resolveCapabilities()).toEqual(FULL_CAPABILITIES);
    const declared = resolveCapabilities({ subscribeFinished: false, delayPrecisionMs: 1000, removeDeadLetter: undefined });
    expect(declared).toEqual({ ...FULL_CAPABILITIES, subscribeFinished: false, delayPrecisionMs: 1000 });
    expect(Object.isFrozen(declared)).toBe(true);
  });

  it('rejects an unknown capability naming the known ones, and a negative precision', () => {
    expect(() => resolveCapabilities({ subscribeFinshed: false } as never)).toThrow(/Unknown capability "subscribeFinshed".*subscribeFinished/);
    expect(() => resolveCapabilities({ delayPrecisionMs: -1 })).toThrow(/delayPrecisionMs must be a number of milliseconds >= 0; got -1/);
  });

  it('maps the broker suite options of before onto capabilities, and refuses a contradiction', () => {
    expect(brokerCapabilities({ approximateDeliveryCount: true })).toMatchObject({ exactDeliveryCount: false, redeliversOnDisconnect: false });
    expect(brokerCapabilities({ approximateDeliveryCount: false })).toMatchObject({ exactDeliveryCount: true });
    expect(brokerCapabilities({ redeliversOnDisconnect: true })).toMatchObject({ redeliversOnDisconnect: true, exactDeliveryCount: true });
    expect(brokerCapabilities({ approximateDeliveryCount: true, capabilities: { exactDeliveryCount: false } }).exactDeliveryCount).toBe(false);
    expect(() => brokerCapabilities({ redeliversOnDisconnect: true, capabilities: { redeliversOnDisconnect: false } })).toThrow(
      /redeliversOnDisconnect contradicts capabilities.redeliversOnDisconnect/,
    );
  });

  it('says what to declare when a feature not declared absent is missing', () => {
    expect(undeclaredAbsence('removeDeadLetter', 'Broker.removeDeadLetter').message).toBe(
      'Broker.removeDeadLetter is missing, but the capability "removeDeadLetter" was not declared absent: implement it, or pass capabilities: { removeDeadLetter: false } to the suite.',
    );
  });
});
