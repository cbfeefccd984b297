import type { Kysely } from 'kysely';
import type { Clock } from './platform/clock.js';
import { deriveKey, SecretBox } from './platform/crypto/secret-box.js';
import type { Database } from './platform/db/schema.js';
import { KeysService } from './modules/partners/keys.service.js';
import { PartnersService } from './modules/partners/partners.service.js';
import { PortalTokens } from './modules/partners/portal-tokens.js';
import { UsersService } from './modules/users/users.service.js';
import { UsageService } from './modules/dashboard/usage.service.js';
import { DashboardService } from './modules/dashboard/dashboard.service.js';
import { ActionsService } from './modules/rewards/actions.service.js';
import { CampaignsService } from './modules/rewards/campaigns.service.js';
import { ReversalsService } from './modules/rewards/actions.reverse.js';
import { PartnerClock } from './modules/rewards/partner-clock.js';
import { PoolsService } from './modules/rewards/pools.service.js';
import { StakeholderTypesService } from './modules/rewards/stakeholder-types.js';
import { WalletsService } from './modules/rewards/wallets.service.js';
import { DeliveriesService } from './modules/webhooks/deliveries.service.js';
import { EventsService } from './modules/webhooks/events.service.js';
import { WebhookDispatcher, type DispatcherOptions } from './modules/webhooks/delivery.dispatcher.js';
import { WebhooksService, type WebhooksOptions } from './modules/webhooks/webhooks.service.js';
import type { Config } from './config.js';
import { PaymentsAccountsService } from './modules/payments/accounts.service.js';
import { CatalogService } from './modules/payments/catalog.service.js';
import { ChargesService } from './modules/payments/charges.service.js';
import { CheckoutService } from './modules/payments/checkout.service.js';
import { DestinationsService } from './modules/payments/destinations.js';
import { MatchRequestsService } from './modules/payments/match-requests.js';
import { PaymentIntentsService } from './modules/payments/payment-intents.js';
import { RefundsService } from './modules/payments/refunds.js';
import { DonationRewards } from './modules/payments/donation-rewards.js';
import { SubscriptionBilling } from './modules/payments/subscriptions.billing.js';
import { SubscriptionsService } from './modules/payments/subscriptions.service.js';
import { StripeSubscriptions } from './modules/payments/subscriptions.stripe.js';
import { CustomersService } from './modules/payments/customers.service.js';
import { PaymentMethodsService } from './modules/payments/payment-methods.service.js';
import { PaymentsTokens } from './modules/payments/payments.tokens.js';
import { Processors } from './modules/payments/processor.js';
import { CharityReport } from './modules/payments/charity-report.js';
import { OrganizationsService } from './modules/organizations/index.js';
import { CheckoutSubscriptionStarter } from './modules/payments/subscriptions.checkout.js';
import { DonationsService, type DonationsOptions } from './modules/donations/donations.service.js';
import { DonationRewarder } from './modules/donations/donations.rewards.js';
import { StripeClients } from './modules/payments/processor.stripe.client.js';
import { PlaidClient } from './modules/payments/plaid.client.js';
import { StripeWebhooksService } from './modules/payments/stripe-webhooks.service.js';

export interface ServiceOptions {
  donations?: Partial<DonationsOptions>;
  webhooks?: Partial<WebhooksOptions>;
  dispatcher?: Partial<DispatcherOptions>;
  /** Where the dispatcher reports errors it survives (a database hiccup between batches). */
  onBackgroundError?: (err: unknown) => void;
  /** Stripe accounts need it; without it they answer 503. */
  stripe?: Config['stripe'];
  plaid?: Config['plaid'];
  /** The database's connection string: the directory's search index is built on a connection of its own. */
  databaseUrl?: string;
  /** Reward batches of one partner kept in flight at once (ALMONER_REWARD_BATCHES_IN_FLIGHT). */
  rewardBatchesInFlight?: number;
}

export function serviceOptions(config: Config): ServiceOptions {
  const w = config.webhooks;
  return {
    webhooks: { allowInsecureSandbox: w.allowInsecureSandbox, rotationGraceMs: w.rotationGraceMs },
    donations: {
      publicUrl: config.publicUrl,
      everyOrgBase: config.everyOrg.base,
      ...(config.everyOrg.webhookToken ? { everyOrgWebhookToken: config.everyOrg.webhookToken } : {}),
      ...(config.everyOrg.intakeToken ? { everyOrgIntakeToken: config.everyOrg.intakeToken } : {}),
    },
    dispatcher: {
      allowInsecureSandbox: w.allowInsecureSandbox,
      timeoutMs: w.timeoutMs,
      leaseMs: w.leaseMs,
      maxInFlight: w.maxInFlight,
      perEndpointConcurrency: w.perEndpointConcurrency,
      pollMs: w.pollMs,
      batchSize: w.batchSize,
    },
    stripe: config.stripe,
    plaid: config.plaid,
    databaseUrl: config.databaseUrl,
    rewardBatchesInFlight: config.rewardBatchesInFlight,
  };
}

/** Wires the domain services once, for the HTTP app and the CLI alike. */
export function createServices(db: Kysely<Database>, masterKey: Buffer, clock: Clock, options: ServiceOptions = {}) {
  const box = new SecretBox(masterKey);
  const keys = new KeysService(db, box, clock);
  const tokens = new PortalTokens(deriveKey(masterKey, 'almoner/portal-jwt/v1'), clock);
  const partners = new PartnersService(db, keys, tokens, clock);
  const usage = new UsageService(db);
  const partnerClock = new PartnerClock(db, clock);
  const users = new UsersService(db, (scope) => partnerClock.now(scope.partnerId, scope.environment));
  const stakeholderTypes = new StakeholderTypesService(db);
  const pools = new PoolsService(db, partnerClock);
  const campaigns = new CampaignsService(db, partnerClock, stakeholderTypes);
  const actions = new ActionsService(db, partnerClock, (partnerId, codes) => stakeholderTypes.assertRegistered(partnerId, codes), {
    ...(options.rewardBatchesInFlight ? { batchesInFlight: options.rewardBatchesInFlight } : {}),
  });
  const reversals = new ReversalsService(db, partnerClock);
  const wallets = new WalletsService(db, partnerClock);
  const webhooks = new WebhooksService(db, box, clock, options.webhooks);
  const dispatcher = new WebhookDispatcher(db, webhooks, clock, options.dispatcher, options.onBackgroundError);
  const deliveries = new DeliveriesService(db, dispatcher, clock);
  const paymentsAccounts = new PaymentsAccountsService(db, box, new PaymentsTokens(deriveKey(masterKey, 'almoner/payments-jwt/v1'), clock), clock);
  const processors = new Processors(
    options.stripe ? new StripeClients(options.stripe, (accountId, tx) => paymentsAccounts.processorSecret(accountId, tx)) : null,
    options.plaid ? new PlaidClient(options.plaid) : null,
  );
  const customers = new CustomersService(db, processors, clock);
  const paymentMethods = new PaymentMethodsService(db, processors, customers, clock);
  const catalog = new CatalogService(db, clock, processors);
  const destinations = new DestinationsService(db, clock);
  const matchRequests = new MatchRequestsService(db, clock);
  const donationRewards = new DonationRewards(db, actions, reversals, clock);
  const charges = new ChargesService(db, processors, customers, catalog, destinations, matchRequests, donationRewards, partnerClock, clock);
  const paymentIntents = new PaymentIntentsService(db, processors, customers, destinations, charges, paymentsAccounts, partnerClock);
  const subscriptionBilling = new SubscriptionBilling(db, charges, paymentsAccounts, clock);
  const refunds = new RefundsService(db, paymentsAccounts, partnerClock, donationRewards, processors);
  const stripeSubscriptions = new StripeSubscriptions(db, processors, customers, destinations, charges, partnerClock, clock);
  const stripeWebhooks = new StripeWebhooksService(db, processors, charges, stripeSubscriptions, refunds, paymentsAccounts, partnerClock, clock, options.stripe?.webhookSecrets ?? []);
  const subscriptions = new SubscriptionsService(db, customers, destinations, charges, subscriptionBilling, partnerClock, stripeSubscriptions);
  const checkout = new CheckoutService(db, customers, catalog, destinations, charges, paymentIntents, paymentsAccounts, partnerClock,
    new CheckoutSubscriptionStarter(db, processors, subscriptions, partnerClock), processors);
  const donations = new DonationsService(db, checkout, customers, paymentsAccounts, new DonationRewarder(db, actions, reversals, partnerClock), partnerClock, clock, {
    publicUrl: 'http://localhost:3000',
    everyOrgBase: 'https://www.every.org',
    everyOrgWebhookToken: deriveKey(masterKey, 'almoner/every-org-webhook-token/v1').toString('hex').slice(0, 32),
    everyOrgIntakeToken: deriveKey(masterKey, 'almoner/every-org-intake/v1').toString('base64url'),
    ...options.donations,
  });
  // The hosted page's outcome reaches the donation before the donor is redirected back.
  checkout.onSettled((sessionId, result) => donations.checkoutSettled(sessionId, result));
  refunds.onFullRefund({
    inTransaction: (trx, chargeId, at) => donations.refundedInTransaction(trx, chargeId, at),
    afterCommit: (chargeId) => donations.refunded(chargeId),
  });
  return {
    db,
    clock,
    box,
    keys,
    tokens,
    partners,
    users,
    usage,
    dashboard: new DashboardService(db, clock, partnerClock),
    partnerClock,
    stakeholderTypes,
    pools,
    campaigns,
    actions,
    reversals,
    wallets,
    webhooks,
    dispatcher,
    deliveries,
    events: new EventsService(db),
    paymentsAccounts,
    processors,
    customers,
    paymentMethods,
    catalog,
    charges,
    destinations,
    matchRequests,
    paymentIntents,
    subscriptionBilling,
    refunds,
    donationRewards,
    subscriptions,
    stripeSubscriptions,
    checkout,
    stripeWebhooks,
    donations,
    charityReport: new CharityReport(db),
    organizations: new OrganizationsService(db, { databaseUrl: options.databaseUrl, onError: options.onBackgroundError }),
  };
}

export type Services = ReturnType<typeof createServices>;
