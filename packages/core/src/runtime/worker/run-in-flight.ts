/**
 * A run being advanced in this worker. Tasks for it that come meanwhile set `again` (with what they
 * ask for) instead of replaying it alongside; the advance then looks once more.
 */
export interface RunInFlight {
  again: boolean;
  recover: boolean;
  redelivered: boolean;
  timer: boolean;
  /** The run's queue, once its record is read. */
  queue?: string;
  finished: Promise<void>;
}
