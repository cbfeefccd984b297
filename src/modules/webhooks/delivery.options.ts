import { systemResolver, type Resolver } from './delivery.http.js';

export interface DispatcherOptions {
  /**
   * Events fanned out per transaction, deliveries claimed per claim, and how many a running
   * dispatcher keeps claimed ahead of sending, so a slot that frees up is refilled at once instead
   * of after a claim's round trip.
   */
  batchSize: number;
  /** Deliveries this process runs at once, over all endpoints. */
  maxInFlight: number;
  /** Deliveries this process runs at once to one endpoint, so one slow receiver cannot take every slot. */
  perEndpointConcurrency: number;
  timeoutMs: number;
  /** How long a claim lasts; longer than timeoutMs, so a live dispatcher always finishes before another may take over. */
  leaseMs: number;
  /** Idle wait between looks for new work. */
  pollMs: number;
  maxResponseBytes: number;
  /** Sandbox endpoints may be http:// and private or loopback addresses. */
  allowInsecureSandbox: boolean;
  resolver: Resolver;
  random: () => number;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  batchSize: 600,
  maxInFlight: 256,
  perEndpointConcurrency: 32,
  timeoutMs: 15_000,
  leaseMs: 45_000,
  pollMs: 200,
  maxResponseBytes: 64 * 1024,
  allowInsecureSandbox: false,
  resolver: systemResolver,
  random: Math.random,
};
