import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { prefixedId, randomHex } from '../../platform/crypto/ids.js';
import type { SecretBox } from '../../platform/crypto/secret-box.js';
import type { Database, WebhookEndpointRow, WebhookEndpointUpdate } from '../../platform/db/schema.js';
import { notFound } from '../../platform/errors.js';
import type { PageQueryType } from '../../platform/http/common.schemas.js';
import { webhooksRepo, type Scope } from './webhooks.repo.js';
import type {
  CreatedWebhookEndpointType,
  CreateWebhookBodyType,
  RotatedSecretType,
  UpdateWebhookBodyType,
  WebhookEndpointType,
} from './webhooks.schemas.js';
import { assertCustomHeaders, assertEventTypes, assertSubscription, assertWebhookUrl } from './webhooks.validation.js';

export interface WebhooksOptions {
  /**
   * Sandbox endpoints may use http:// and loopback or private hosts (on for the embedded demo, so a
   * partner can point sandbox at a local receiver). Production endpoints never may.
   */
  allowInsecureSandbox: boolean;
  /** How long the previous secret keeps signing after a rotation. */
  rotationGraceMs: number;
}

export const DEFAULT_WEBHOOKS_OPTIONS: WebhooksOptions = { allowInsecureSandbox: false, rotationGraceMs: 24 * 60 * 60 * 1000 };

/** The secret box purpose binds a sealed secret to its endpoint: a ciphertext copied to another row does not open. */
const secretPurpose = (endpointId: string) => `webhook_endpoints.secret:${endpointId}`;

const newSecret = () => `whsec_${randomHex(32)}`;

export function toWebhookEndpoint(row: WebhookEndpointRow): WebhookEndpointType {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.event_types,
    receiveAllEvents: row.receive_all_events,
    headers: row.headers,
    isActive: row.is_active,
    disabledReason: row.disabled_reason,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export class WebhooksService {
  private readonly options: WebhooksOptions;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    options: Partial<WebhooksOptions> = {},
  ) {
    this.options = { ...DEFAULT_WEBHOOKS_OPTIONS, ...options };
  }

  async list(scope: Scope, q: PageQueryType) {
    const { rows, total } = await webhooksRepo.list(this.db, scope, (q.page - 1) * q.limit, q.limit);
    return { data: rows.map(toWebhookEndpoint), page: q.page, limit: q.limit, total };
  }

  async get(scope: Scope, id: string) {
    return toWebhookEndpoint(await this.findOrThrow(scope, id));
  }

  async create(scope: Scope, body: CreateWebhookBodyType): Promise<CreatedWebhookEndpointType> {
    const receiveAllEvents = body.receiveAllEvents ?? false;
    const eventTypes = [...new Set(body.eventTypes ?? [])];
    const headers = body.headers ?? {};
    assertWebhookUrl(body.url, { environment: scope.environment, allowInsecureSandbox: this.options.allowInsecureSandbox });
    assertEventTypes(eventTypes);
    assertSubscription(eventTypes, receiveAllEvents);
    assertCustomHeaders(headers);

    const id = prefixedId('we');
    const secret = newSecret();
    const row = await webhooksRepo.insert(this.db, scope, {
      id,
      url: body.url,
      description: body.description ?? null,
      event_types: JSON.stringify(eventTypes),
      receive_all_events: receiveAllEvents,
      headers: JSON.stringify(headers),
      secret_sealed: this.box.seal(secret, secretPurpose(id)),
    });
    return { ...toWebhookEndpoint(row), secret };
  }

  async update(scope: Scope, id: string, body: UpdateWebhookBodyType) {
    return this.db.transaction().execute(async (trx) => {
      const current = await webhooksRepo.find(trx, scope, id, true);
      if (!current) throw notFound(`Webhook "${id}"`);
      const patch: WebhookEndpointUpdate = {};
      if (body.url !== undefined) {
        assertWebhookUrl(body.url, { environment: scope.environment, allowInsecureSandbox: this.options.allowInsecureSandbox });
        patch.url = body.url;
      }
      if (body.description !== undefined) patch.description = body.description;
      const eventTypes = body.eventTypes !== undefined ? [...new Set(body.eventTypes)] : current.event_types;
      if (body.eventTypes !== undefined) {
        assertEventTypes(eventTypes);
        patch.event_types = JSON.stringify(eventTypes);
      }
      const receiveAllEvents = body.receiveAllEvents ?? current.receive_all_events;
      if (body.receiveAllEvents !== undefined) patch.receive_all_events = body.receiveAllEvents;
      if (body.eventTypes !== undefined || body.receiveAllEvents !== undefined) assertSubscription(eventTypes, receiveAllEvents);
      if (body.headers !== undefined) {
        assertCustomHeaders(body.headers);
        patch.headers = JSON.stringify(body.headers);
      }
      if (body.isActive !== undefined) {
        patch.is_active = body.isActive;
        // Re-enabling clears why delivery had turned it off; disabling by hand records that.
        patch.disabled_reason = body.isActive ? null : 'Disabled by the partner';
        // A re-enabled endpoint starts with a clean record, or the 5-day rule would switch it off again at its first failure.
        if (body.isActive && !current.is_active) Object.assign(patch, { failing_since: null, consecutive_failures: 0, disabled_at: null });
      }
      const row = await webhooksRepo.update(trx, scope, id, patch);
      if (!row) throw notFound(`Webhook "${id}"`);
      return toWebhookEndpoint(row);
    });
  }

  async delete(scope: Scope, id: string) {
    const row = await webhooksRepo.delete(this.db, scope, id);
    if (!row) throw notFound(`Webhook "${id}"`);
    return { id: row.id, deleted: true as const };
  }

  /** A new secret, shown once; the one it replaces keeps signing for the grace period. */
  async rotateSecret(scope: Scope, id: string): Promise<RotatedSecretType> {
    return this.db.transaction().execute(async (trx) => {
      const current = await webhooksRepo.find(trx, scope, id, true);
      if (!current) throw notFound(`Webhook "${id}"`);
      const secret = newSecret();
      const expiresAt = new Date(this.clock.now().getTime() + this.options.rotationGraceMs);
      await webhooksRepo.update(trx, scope, id, {
        secret_sealed: this.box.seal(secret, secretPurpose(id)),
        previous_secret_sealed: current.secret_sealed,
        previous_secret_expires_at: expiresAt,
      });
      return { id, secret, previousSecretExpiresAt: expiresAt.toISOString() };
    });
  }

  /** The secrets a delivery signs with now: the current one, then the previous one while its grace period lasts. */
  signingSecrets(row: Pick<WebhookEndpointRow, 'id' | 'secret_sealed' | 'previous_secret_sealed' | 'previous_secret_expires_at'>): string[] {
    const secrets = [this.box.open(row.secret_sealed, secretPurpose(row.id))];
    if (row.previous_secret_sealed && row.previous_secret_expires_at && row.previous_secret_expires_at > this.clock.now()) {
      secrets.push(this.box.open(row.previous_secret_sealed, secretPurpose(row.id)));
    }
    return secrets;
  }

  /** The stored row, for delivery code (signingSecrets) and tests. */
  async findRow(scope: Scope, id: string) {
    return webhooksRepo.find(this.db, scope, id);
  }

  private async findOrThrow(scope: Scope, id: string) {
    const row = await webhooksRepo.find(this.db, scope, id);
    if (!row) throw notFound(`Webhook "${id}"`);
    return row;
  }
}
