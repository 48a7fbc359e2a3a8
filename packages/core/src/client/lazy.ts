import {
  type Broker,
  type ConsumeOptions,
  type MessageHandler,
  type PublishOptions,
  BrokerError,
  type AppendRequest,
  type NewRun,
  type RunFilter,
  type ScheduleRecord,
  type Storage,
} from '@durably/contracts';

/**
 * Storage and broker that resolve an adapter on first use, so `createClient({ storage: 'postgres://…' })`
 * can stay synchronous while the adapter package is imported lazily.
 */
export class LazyStorage implements Storage {
  private instance?: Promise<Storage>;
  constructor(private readonly load: () => Promise<Storage>) {}
  private get(): Promise<Storage> {
    this.instance ??= this.load();
    return this.instance;
  }
  async migrate() { return (await this.get()).migrate(); }
  async createRun(run: NewRun) { return (await this.get()).createRun(run); }
  async getRun(runId: string) { return (await this.get()).getRun(runId); }
  async listRuns(filter?: RunFilter) { return (await this.get()).listRuns(filter); }
  async append(request: AppendRequest) { return (await this.get()).append(request); }
  async readEvents(runId: string, fromSeq?: number, limit?: number) { return (await this.get()).readEvents(runId, fromSeq, limit); }
  async touchRun(runId: string, at: number) { return (await this.get()).touchRun(runId, at); }
  async claimDueTimers(now: number, options: { limit: number; leaseMs: number }) { return (await this.get()).claimDueTimers(now, options); }
  async listTimers(runId: string) { return (await this.get()).listTimers(runId); }
  async getHook(token: string) { return (await this.get()).getHook(token); }
  async deleteFinishedRuns(finishedBefore: number, limit: number) { return (await this.get()).deleteFinishedRuns(finishedBefore, limit); }
  async saveSchedule(schedule: ScheduleRecord, expectedVersion?: number) { return (await this.get()).saveSchedule(schedule, expectedVersion); }
  async getSchedule(scheduleId: string) { return (await this.get()).getSchedule(scheduleId); }
  async listSchedules() { return (await this.get()).listSchedules(); }
  async deleteSchedule(scheduleId: string) { return (await this.get()).deleteSchedule(scheduleId); }
  async claimDueSchedules(now: number, options: { limit: number; leaseMs: number }) { return (await this.get()).claimDueSchedules(now, options); }
  async putCheckpoint(runId: string, stepId: string, value: string) { return (await this.get()).putCheckpoint(runId, stepId, value); }
  async getCheckpoint(runId: string, stepId: string) { return (await this.get()).getCheckpoint(runId, stepId); }
  async deleteCheckpoint(runId: string, stepId: string) { return (await this.get()).deleteCheckpoint(runId, stepId); }
  async acquireSlot(key: string, runId: string, limit: number) { return (await this.get()).acquireSlot(key, runId, limit); }
  async takePermit(key: string, limit: number, periodMs: number, now: number) { return (await this.get()).takePermit(key, limit, periodMs, now); }
  async close() { if (this.instance) await (await this.instance).close(); }
}

export class LazyBroker implements Broker {
  private instance?: Promise<Broker>;
  private resolved?: Broker;
  constructor(private readonly load: () => Promise<Broker>) {}
  private async get(): Promise<Broker> {
    this.instance ??= this.load().then((b) => (this.resolved = b));
    return this.instance;
  }
  /** Known once the adapter is loaded (the client loads it in ensureReady before publishing). */
  get maxDelayMs(): number { return this.resolved?.maxDelayMs ?? Infinity; }
  async migrate() { return (await this.get()).migrate(); }
  async publish(queue: string, body: string, options?: PublishOptions) { return (await this.get()).publish(queue, body, options); }
  async consume(queue: string, handler: MessageHandler, options: ConsumeOptions) { return (await this.get()).consume(queue, handler, options); }
  async deadLetters(queue: string, limit?: number) { return (await this.get()).deadLetters(queue, limit); }
  async removeDeadLetter(queue: string, id: string): Promise<boolean> {
    const broker = await this.get();
    if (!broker.removeDeadLetter) throw new BrokerError(`The broker ${broker.constructor?.name ?? ''} cannot remove dead letters (it has no removeDeadLetter).`);
    return broker.removeDeadLetter(queue, id);
  }
  async close() { if (this.instance) await (await this.instance).close(); }
}
