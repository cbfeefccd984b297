import type { Kysely, Transaction } from 'kysely';
import { objectId } from '../../platform/crypto/ids.js';
import type { Database, Environment } from '../../platform/db/schema.js';
import { AppError, notFound } from '../../platform/errors.js';
import { newEvent, writeEvents } from '../../platform/outbox/outbox.js';
import { formatTokens } from './distribution.js';
import type { PartnerClock } from './partner-clock.js';
import { campaignsRepo, type CampaignRow, type CampaignUpdate, type Scope } from './campaigns.repo.js';
import {
  canonicalTimeZone,
  parseInstant,
  parseNumberFields,
  requestStatus,
  scheduleProblem,
  settle,
  validationError,
  type NumberFields,
  type NumberLiterals,
  type Problem,
  type StatusChange,
  type StatusState,
} from './campaigns.rules.js';
import { toCampaign } from './campaigns.view.js';
import type { CreateCampaignBodyType, ListCampaignsQueryType, UpdateCampaignBodyType } from './campaigns.schemas.js';
import type { StakeholderTypesService } from './stakeholder-types.js';

export type { CampaignRow };

export const CAMPAIGN_STATUS_CHANGED = 'campaign.status_changed';

/** Writes one campaign.status_changed per change, in the caller's transaction. */
export async function writeStatusEvents(
  trx: Transaction<Database> | Kysely<Database>,
  campaign: { id: string; partnerId: string; environment: Environment },
  changes: readonly StatusChange[],
  at: Date,
) {
  await writeEvents(
    trx,
    changes.map((c) =>
      newEvent(
        campaign.partnerId,
        campaign.environment,
        CAMPAIGN_STATUS_CHANGED,
        { campaignId: campaign.id, previousStatus: c.previousStatus, status: c.status, reason: c.reason },
        at,
      ),
    ),
  );
}

interface Schedule {
  startsAt: Date | null;
  endsAt: Date | null;
  timezone: string;
}

const noLiterals: NumberLiterals = () => undefined;

export class CampaignsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: PartnerClock,
    private readonly stakeholderTypes: StakeholderTypesService,
  ) {}

  async list(scope: Scope, q: ListCampaignsQueryType) {
    const filter = { includeArchived: q.includeArchived ?? false, ...(q.status ? { status: q.status } : {}) };
    const { rows, total } = await campaignsRepo.list(this.db, scope, filter, (q.page - 1) * q.limit, q.limit);
    return { data: rows.map(toCampaign), page: q.page, limit: q.limit, total };
  }

  async get(scope: Scope, id: string) {
    const row = await campaignsRepo.find(this.db, scope, id);
    if (!row) throw notFound(`Campaign ${id}`);
    return toCampaign(row);
  }

  /**
   * `literals` gives the JSON text of the body's numbers (literalsFromRawBody(request.rawBody)), so decimals
   * are read exactly; without it the numbers' shortest decimal text is used.
   */
  async create(scope: Scope, body: CreateCampaignBodyType, literals: NumberLiterals = noLiterals) {
    const problems: Problem[] = [];
    const { fields, problems: numberProblems } = parseNumberFields(body, literals);
    problems.push(...numberProblems);
    const schedule = this.readSchedule(body.schedule, { startsAt: null, endsAt: null, timezone: 'UTC' }, problems);
    if (problems.length > 0) throw validationError(problems);
    await this.checkReferences(scope, fields, body.tokenPoolId);

    const now = await this.clock.now(scope.partnerId, scope.environment);
    let state: StatusState = { status: 'DRAFT', autoStart: false, startsAt: schedule.startsAt, endsAt: schedule.endsAt };
    const changes: StatusChange[] = [];
    if (body.status === 'ACTIVE') {
      const outcome = requestStatus(state, 'ACTIVE', now);
      if (!outcome.ok) throw new AppError('INVALID_STATE', outcome.message);
      state = outcome.state;
      // A new campaign is a draft until it is activated; creating it ACTIVE reports that step.
      changes.push(...outcome.changes);
    }

    const id = objectId(now);
    return this.db.transaction().execute(async (trx) => {
      const row = await campaignsRepo.insert(trx, {
        id,
        partner_id: scope.partnerId,
        environment: scope.environment,
        name: body.name,
        description: body.description ?? null,
        status: state.status,
        auto_start: state.autoStart,
        action_types: JSON.stringify(body.actionTypes),
        multiplier_bp: fields.multiplierBp ?? 10_000n,
        tiers: JSON.stringify(fields.tiers ?? []),
        splits: JSON.stringify(fields.splits ?? []),
        starts_at: schedule.startsAt,
        ends_at: schedule.endsAt,
        timezone: schedule.timezone,
        budget_total: fields.budgetTotal ?? null,
        budget_spent: 0n,
        per_user_cap: fields.perUserCap ?? null,
        token_pool_id: body.tokenPoolId ?? null,
        priority: body.priority ?? 0,
        archived_at: null,
        created_at: now,
        updated_at: now,
      });
      await writeStatusEvents(trx, { id, ...scope }, changes, now);
      return toCampaign(row);
    });
  }

  /** Changes any create field and/or the status; the row is locked so budget and status checks see its latest state. */
  async update(scope: Scope, id: string, body: UpdateCampaignBodyType, literals: NumberLiterals = noLiterals) {
    const problems: Problem[] = [];
    const { fields, problems: numberProblems } = parseNumberFields(body, literals);
    problems.push(...numberProblems);
    // Dates are checked against the stored schedule below; here only their form and the time zone.
    const given = this.readSchedule(body.schedule, undefined, problems);
    if (problems.length > 0) throw validationError(problems);
    await this.checkReferences(scope, fields, body.tokenPoolId);

    const now = await this.clock.now(scope.partnerId, scope.environment);
    return this.db.transaction().execute(async (trx) => {
      const row = await campaignsRepo.lock(trx, scope, id);
      if (!row) throw notFound(`Campaign ${id}`);
      if (row.status === 'ENDED') {
        throw new AppError('INVALID_STATE', `Campaign ${id} has ENDED, which is final; it can no longer be changed`);
      }

      const schedule: Schedule = {
        startsAt: body.schedule?.startsAt !== undefined ? given.startsAt : row.starts_at,
        endsAt: body.schedule?.endsAt !== undefined ? given.endsAt : row.ends_at,
        timezone: body.schedule?.timezone !== undefined ? given.timezone : row.timezone,
      };
      const reversed = scheduleProblem(schedule.startsAt, schedule.endsAt);
      if (reversed) throw validationError([reversed]);

      const spent = BigInt(row.budget_spent);
      if (fields.budgetTotal !== undefined && fields.budgetTotal !== null && fields.budgetTotal < spent) {
        throw new AppError(
          'BUDGET_BELOW_SPENT',
          `budget.totalTokens cannot go below the ${formatTokens(spent)} tokens this campaign has already spent`,
        );
      }

      let state: StatusState = { status: row.status, autoStart: row.auto_start, startsAt: schedule.startsAt, endsAt: schedule.endsAt };
      const changes: StatusChange[] = [];
      if (body.status !== undefined) {
        const outcome = requestStatus(state, body.status, now);
        if (!outcome.ok) throw new AppError('INVALID_STATE', outcome.message);
        state = outcome.state;
        changes.push(...outcome.changes);
      }
      // A schedule edit can make a transition due at once (startsAt moved into the past, endsAt passed).
      const settled = settle(state, now);
      state = settled.state;
      changes.push(...settled.changes);

      const patch: CampaignUpdate = {
        status: state.status,
        auto_start: state.autoStart,
        starts_at: schedule.startsAt,
        ends_at: schedule.endsAt,
        timezone: schedule.timezone,
        updated_at: now,
      };
      if (body.name !== undefined) patch.name = body.name;
      if (body.description !== undefined) patch.description = body.description;
      if (body.actionTypes !== undefined) patch.action_types = JSON.stringify(body.actionTypes);
      if (fields.multiplierBp !== undefined) patch.multiplier_bp = fields.multiplierBp;
      if (fields.splits !== undefined) patch.splits = JSON.stringify(fields.splits);
      if (fields.tiers !== undefined) patch.tiers = JSON.stringify(fields.tiers);
      if (fields.budgetTotal !== undefined) patch.budget_total = fields.budgetTotal;
      if (fields.perUserCap !== undefined) patch.per_user_cap = fields.perUserCap;
      if (body.tokenPoolId !== undefined) patch.token_pool_id = body.tokenPoolId;
      if (body.priority !== undefined) patch.priority = body.priority;

      const updated = await campaignsRepo.update(trx, id, patch);
      await writeStatusEvents(trx, { id, ...scope }, changes, now);
      return toCampaign(updated);
    });
  }

  /**
   * DELETE: archives. The campaign ENDS (one status event if it was not ENDED yet) and leaves the list, but
   * stays readable by id because actions and transactions refer to it. Repeating it changes nothing.
   */
  async archive(scope: Scope, id: string) {
    const now = await this.clock.now(scope.partnerId, scope.environment);
    return this.db.transaction().execute(async (trx) => {
      const row = await campaignsRepo.lock(trx, scope, id);
      if (!row) throw notFound(`Campaign ${id}`);
      if (row.status === 'ENDED' && row.archived_at !== null) return toCampaign(row);
      const changes: StatusChange[] =
        row.status === 'ENDED' ? [] : [{ previousStatus: row.status, status: 'ENDED', reason: 'manual' }];
      const updated = await campaignsRepo.update(trx, id, {
        status: 'ENDED',
        auto_start: false,
        archived_at: row.archived_at ?? now,
        updated_at: now,
      });
      await writeStatusEvents(trx, { id, ...scope }, changes, now);
      return toCampaign(updated);
    });
  }

  /** Split codes must be registered for the partner; a token pool must be the partner's, in this environment. */
  private async checkReferences(scope: Scope, fields: NumberFields, tokenPoolId: string | null | undefined) {
    if (fields.splits && fields.splits.length > 0) {
      await this.stakeholderTypes.assertRegistered(
        scope.partnerId,
        fields.splits.map((s) => s.stakeholderTypeCode),
      );
    }
    if (tokenPoolId !== undefined && tokenPoolId !== null && !(await campaignsRepo.poolInScope(this.db, scope, tokenPoolId))) {
      throw notFound(`Token pool ${tokenPoolId}`);
    }
  }

  /** The given schedule over `base`; with a base, also checks the date order (create has the whole schedule). */
  private readSchedule(
    input: CreateCampaignBodyType['schedule'],
    base: Schedule | undefined,
    problems: Problem[],
  ): Schedule {
    const out: Schedule = { ...(base ?? { startsAt: null, endsAt: null, timezone: 'UTC' }) };
    if (input === undefined) return out;
    for (const key of ['startsAt', 'endsAt'] as const) {
      const text = input[key];
      if (text === undefined) continue;
      if (text === null) {
        out[key] = null;
        continue;
      }
      const at = parseInstant(text);
      if (at === undefined) problems.push({ path: `body.schedule.${key}`, message: `schedule.${key} is not a valid date-time` });
      else out[key] = at;
    }
    if (input.timezone !== undefined) {
      const tz = canonicalTimeZone(input.timezone);
      if (tz === undefined) {
        problems.push({ path: 'body.schedule.timezone', message: `schedule.timezone "${input.timezone}" is not an IANA time zone name such as Europe/Paris` });
      } else {
        out.timezone = tz;
      }
    }
    if (base !== undefined) {
      const reversed = scheduleProblem(out.startsAt, out.endsAt);
      if (reversed) problems.push(reversed);
    }
    return out;
  }
}
