-- Charges that cannot be lost between Stripe and our database, and subscriptions that Stripe bills.
--
-- A Stripe charge is written first, as 'processing', and committed; only then is Stripe asked, with
-- an idempotency key fixed by that row, outside any transaction; the outcome is recorded in a second
-- transaction. A row left 'processing' (the process died, or the second transaction failed) is
-- settled later by asking Stripe again under the same key, or by the payment_intent.* webhook, which
-- finds the row by the charge id in the PaymentIntent's metadata.
ALTER TABLE charges DROP CONSTRAINT charges_status_check;
ALTER TABLE charges ADD CONSTRAINT charges_status_check CHECK (status IN ('processing', 'pending', 'succeeded', 'failed', 'refunded'));
-- The Idempotency-Key Stripe receives for this charge: every attempt sends the same one.
ALTER TABLE charges ADD COLUMN processor_key text;
-- The request that made the charge (route and body): a repeat of the same request whose outcome was
-- never answered is given that outcome instead of paying again.
ALTER TABLE charges ADD COLUMN request_hash text;
-- Until when one request or one worker is asking Stripe about this processing charge.
ALTER TABLE charges ADD COLUMN lease_until timestamptz;
-- When Stripe was first asked (server time): Stripe keeps idempotency keys for 24 hours.
ALTER TABLE charges ADD COLUMN processor_asked_at timestamptz;
-- When a caller was given the outcome; null while nobody has been told.
ALTER TABLE charges ADD COLUMN answered_at timestamptz;
CREATE INDEX charges_processing_idx ON charges (lease_until) WHERE status = 'processing';
CREATE INDEX charges_unanswered_idx ON charges (account_id, request_hash) WHERE request_hash IS NOT NULL AND answered_at IS NULL;

-- Subscriptions of Stripe accounts: our row (our id) is written 'incomplete' before Stripe creates
-- the subscription, then carries Stripe's id. 'incomplete' rows are not shown through the API.
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_status_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_status_check CHECK (status IN ('incomplete', 'active', 'past_due', 'canceled'));
ALTER TABLE subscriptions ADD COLUMN processor_ref text;
ALTER TABLE subscriptions ADD COLUMN processor_key text;
-- What Stripe was asked to create, so a retry under the same key sends the very same parameters.
ALTER TABLE subscriptions ADD COLUMN processor_request jsonb;
ALTER TABLE subscriptions ADD COLUMN request_hash text;
ALTER TABLE subscriptions ADD COLUMN lease_until timestamptz;
ALTER TABLE subscriptions ADD COLUMN processor_asked_at timestamptz;
CREATE UNIQUE INDEX subscriptions_processor_ref_idx ON subscriptions (processor_ref) WHERE processor_ref IS NOT NULL;
CREATE INDEX subscriptions_incomplete_idx ON subscriptions (lease_until) WHERE status = 'incomplete';

-- Stripe's invoices are unique by Stripe's id; two of them (a period's and a proration's) may start
-- at the same moment, so the sandbox's one-invoice-per-period rule applies to our own invoices only.
ALTER TABLE subscription_invoices DROP CONSTRAINT subscription_invoices_subscription_id_period_start_status_key;
CREATE UNIQUE INDEX subscription_invoices_period_idx ON subscription_invoices (subscription_id, period_start, status) WHERE processor_ref IS NULL;

-- A Stripe Checkout Session in subscription mode: our reference, also in the subscription's metadata,
-- so an invoice event that arrives before checkout.session.completed still finds the session.
ALTER TABLE checkout_sessions ADD COLUMN processor_key text;
CREATE UNIQUE INDEX checkout_sessions_processor_key_idx ON checkout_sessions (processor_key) WHERE processor_key IS NOT NULL;
