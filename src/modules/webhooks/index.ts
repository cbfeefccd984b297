import { deliveriesRepo } from './deliveries.repo.js';

/**
 * Per-endpoint attempt figures over a closed window, as GET /v1/partner/webhooks/:id/health reports
 * them; the dashboard reads the same numbers rather than counting attempts a second way.
 */
export const endpointDeliveryStats = deliveriesRepo.health;
