/** What other modules may use of the rewards module. */
export type { ActionsService } from './actions.service.js';
export type { ReversalsService } from './actions.reverse.js';
export type { PartnerClock } from './partner-clock.js';
export { formatTokens, TOKEN_SCALE } from './distribution.js';
