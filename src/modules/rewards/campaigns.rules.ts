// Campaign rules without I/O: exact reading of the decimal fields, schedule and time zone checks, the status
// machine and the transitions a schedule makes due (which campaign an action goes through: campaign-pick.ts).
import type { CampaignStatus, StoredSplit, StoredTier } from '../../platform/db/schema.js';
import { AppError } from '../../platform/errors.js';
import { numberLiteralAt, type JsonPath } from '../../platform/json/number-literals.js';
import { MAX_EXACT_JSON_MINOR, formatMinor, minorToJsonNumber, parseDecimalToMinor } from '../../platform/money/decimal.js';
import { parseMultiplier, parseTokens, validateSplits, validateTiers, type Tier } from './distribution.js';

// ------------------------------------------------------------------ exact numbers from the JSON text

/** The source text of the number at a path of the request body, or undefined when it is unknown. */
export type NumberLiterals = (path: JsonPath) => string | undefined;

/**
 * Removes the whitespace between JSON tokens (never inside strings). numberLiteralAt scans the text once per
 * lookup; a campaign body has up to ~80 numbers and its strings are bounded by the schema, so compacting first
 * keeps a body padded with a megabyte of blanks from costing 80 megabytes of scanning.
 */
export function compactJson(text: string): string {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      out += text.slice(from, i);
      from = i + 1;
    }
  }
  return out + text.slice(from);
}

export function literalsFromRawBody(raw: Buffer | string | undefined): NumberLiterals {
  if (raw === undefined || raw.length === 0) return () => undefined;
  const text = compactJson(typeof raw === 'string' ? raw : raw.toString('utf8'));
  return (path) => numberLiteralAt(text, path);
}

/** Without the request text (a direct service call), the shortest decimal that reads back as the number. */
const textOf = (literals: NumberLiterals, path: JsonPath, value: number) => literals(path) ?? String(value);

export interface Problem {
  path: string;
  message: string;
}

const pathName = (path: JsonPath) => `body.${path.join('.')}`;
const label = (path: JsonPath) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

export function validationError(problems: readonly Problem[]): AppError {
  return new AppError('VALIDATION_ERROR', problems.map((p) => p.message).join('; '), { details: [...problems] });
}

/** Tier bounds: major currency units with 4 decimals, so one campaign works for every currency. */
export const TIER_AMOUNT_DIGITS = 4;
const PERCENT_DIGITS = 2;

export interface NumberFieldsInput {
  multiplier?: number | undefined;
  splits?: readonly { stakeholderTypeCode: string; percent: number }[] | undefined;
  tiers?: readonly { minAmount: number; maxAmount?: number | null | undefined; multiplier: number }[] | undefined;
  budget?: { totalTokens?: number | null | undefined; perUserCap?: number | null | undefined } | undefined;
}

/** The decimal fields as stored: undefined = not given; null = cleared. */
export interface NumberFields {
  multiplierBp?: bigint;
  splits?: StoredSplit[];
  tiers?: StoredTier[];
  budgetTotal?: bigint | null;
  perUserCap?: bigint | null;
}

/**
 * Reads multiplier, splits, tiers and budget exactly from the request text and checks them: multipliers
 * in (0, 1000] with up to 4 decimals, percents with up to 2 decimals adding up to exactly 100 with unique
 * codes, tiers non-overlapping [min, max) with min >= 0 and max > min, token amounts > 0 with up to 2
 * decimals. Every problem is reported, each naming its field.
 */
export function parseNumberFields(input: NumberFieldsInput, literals: NumberLiterals): { fields: NumberFields; problems: Problem[] } {
  const problems: Problem[] = [];
  const fields: NumberFields = {};
  const fail = (path: JsonPath, reason: string) => problems.push({ path: pathName(path), message: `${label(path)}: ${reason}` });

  const multiplierAt = (path: JsonPath, value: number): bigint | undefined => {
    const parsed = parseMultiplier(textOf(literals, path, value));
    if (parsed.ok) return parsed.multiplierBp;
    fail(path, parsed.reason);
    return undefined;
  };

  if (input.multiplier !== undefined) {
    const bp = multiplierAt(['multiplier'], input.multiplier);
    if (bp !== undefined) fields.multiplierBp = bp;
  }

  if (input.splits !== undefined) {
    const before = problems.length;
    const parsed = input.splits.map((split, i) => {
      const path = ['splits', i, 'percent'];
      const r = parseDecimalToMinor(textOf(literals, path, split.percent), PERCENT_DIGITS);
      if (!r.ok) return fail(path, r.reason === 'at most 2 decimal places' ? 'percent must have at most 2 decimal places' : r.reason), undefined;
      if (r.minor <= 0n) return fail(path, 'percent must be greater than 0'), undefined;
      return { stakeholderTypeCode: split.stakeholderTypeCode, hundredths: r.minor };
    });
    if (problems.length === before) {
      const exact = parsed.map((s) => ({ stakeholderTypeCode: s!.stakeholderTypeCode, percent: minorToJsonNumber(s!.hundredths, PERCENT_DIGITS) }));
      // The same check the action engine applies when it divides a reward, so a saved campaign always divides.
      for (const message of validateSplits(exact)) {
        problems.push({ path: 'body.splits', message: message.startsWith('splits[') ? message : `splits: ${message}` });
      }
      fields.splits = parsed.map((s) => ({ stakeholderTypeCode: s!.stakeholderTypeCode, percent: formatMinor(s!.hundredths, PERCENT_DIGITS) }));
    }
  }

  if (input.tiers !== undefined) {
    const before = problems.length;
    const amountAt = (path: JsonPath, value: number): bigint | undefined => {
      const r = parseDecimalToMinor(textOf(literals, path, value), TIER_AMOUNT_DIGITS);
      if (!r.ok) return fail(path, r.reason), undefined;
      if (r.minor < 0n) return fail(path, 'must not be negative'), undefined;
      if (r.minor >= MAX_EXACT_JSON_MINOR) return fail(path, 'must be less than 100000000000'), undefined;
      return r.minor;
    };
    const tiers = input.tiers.map((tier, i): Tier | undefined => {
      const min = amountAt(['tiers', i, 'minAmount'], tier.minAmount);
      const max = tier.maxAmount === undefined || tier.maxAmount === null ? null : amountAt(['tiers', i, 'maxAmount'], tier.maxAmount);
      const bp = multiplierAt(['tiers', i, 'multiplier'], tier.multiplier);
      if (min === undefined || max === undefined || bp === undefined) return undefined;
      return { minAmountMinor: min, maxAmountMinor: max, multiplierBp: bp };
    });
    if (problems.length === before) {
      const exact = tiers as Tier[];
      for (const message of validateTiers(exact)) problems.push({ path: 'body.tiers', message });
      // Stored lowest range first: reading a campaign shows its tiers in order whatever order they came in.
      fields.tiers = [...exact]
        .sort((a, b) => (a.minAmountMinor < b.minAmountMinor ? -1 : a.minAmountMinor > b.minAmountMinor ? 1 : 0))
        .map((t) => ({
          minAmountMinor: t.minAmountMinor.toString(),
          maxAmountMinor: t.maxAmountMinor === null ? null : t.maxAmountMinor.toString(),
          multiplierBp: t.multiplierBp.toString(),
        }));
    }
  }

  const tokensAt = (path: JsonPath, value: number | null | undefined): bigint | null | undefined => {
    if (value === undefined || value === null) return value;
    const r = parseTokens(textOf(literals, path, value));
    if (!r.ok) return fail(path, r.reason), undefined;
    if (r.units <= 0n) return fail(path, 'must be greater than 0'), undefined;
    if (r.units >= MAX_EXACT_JSON_MINOR) return fail(path, 'must be less than 10000000000000 tokens'), undefined;
    return r.units;
  };
  if (input.budget !== undefined) {
    if (input.budget.totalTokens !== undefined) {
      const v = tokensAt(['budget', 'totalTokens'], input.budget.totalTokens);
      if (v !== undefined) fields.budgetTotal = v;
    }
    if (input.budget.perUserCap !== undefined) {
      const v = tokensAt(['budget', 'perUserCap'], input.budget.perUserCap);
      if (v !== undefined) fields.perUserCap = v;
    }
  }
  return { fields, problems };
}

// ------------------------------------------------------------------ schedule

/** The time zone's canonical IANA name ("europe/paris" -> "Europe/Paris"), or undefined when Intl does not know it. */
export function canonicalTimeZone(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** An ISO-8601 date-time as a Date; undefined when it names no real instant. */
export function parseInstant(text: string): Date | undefined {
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function scheduleProblem(startsAt: Date | null, endsAt: Date | null): Problem | undefined {
  if (startsAt && endsAt && endsAt.getTime() <= startsAt.getTime()) {
    return { path: 'body.schedule.endsAt', message: 'schedule: dates reversed: endsAt must be later than startsAt' };
  }
  return undefined;
}

// ------------------------------------------------------------------ status machine

export interface StatusState {
  status: CampaignStatus;
  autoStart: boolean;
  startsAt: Date | null;
  endsAt: Date | null;
}

export interface StatusChange {
  previousStatus: CampaignStatus;
  status: CampaignStatus;
  reason: 'manual' | 'schedule';
}

/** The changes a partner may ask for; staying in the same status is not a change and always allowed. */
export const ALLOWED_TRANSITIONS: Readonly<Record<CampaignStatus, readonly CampaignStatus[]>> = {
  DRAFT: ['ACTIVE', 'ENDED'],
  ACTIVE: ['PAUSED', 'ENDED'],
  PAUSED: ['ACTIVE', 'ENDED'],
  ENDED: [],
};

const passed = (at: Date | null, now: Date) => at !== null && at.getTime() <= now.getTime();

/**
 * Applies a requested status. ACTIVE before startsAt keeps the campaign a DRAFT that starts itself on
 * schedule (autoStart); ACTIVE after endsAt is refused; asking for DRAFT on a waiting draft cancels the
 * automatic start.
 */
export function requestStatus(
  state: StatusState,
  requested: CampaignStatus,
  now: Date,
): { ok: true; state: StatusState; changes: StatusChange[] } | { ok: false; message: string } {
  const from = state.status;
  if (requested === from) {
    return { ok: true, state: from === 'DRAFT' ? { ...state, autoStart: false } : state, changes: [] };
  }
  if (!ALLOWED_TRANSITIONS[from].includes(requested)) {
    const allowed = ALLOWED_TRANSITIONS[from];
    return {
      ok: false,
      message:
        from === 'ENDED'
          ? 'The campaign has ENDED, which is final; create a new campaign instead'
          : `A ${from} campaign cannot become ${requested}; it can become ${allowed.join(' or ')}`,
    };
  }
  if (requested === 'ACTIVE') {
    if (passed(state.endsAt, now)) {
      return { ok: false, message: `schedule.endsAt (${state.endsAt!.toISOString()}) has passed, so the campaign cannot be activated; move endsAt first` };
    }
    if (from === 'DRAFT' && state.startsAt !== null && state.startsAt.getTime() > now.getTime()) {
      return { ok: true, state: { ...state, autoStart: true }, changes: [] };
    }
  }
  return {
    ok: true,
    state: { ...state, status: requested, autoStart: false },
    changes: [{ previousStatus: from, status: requested, reason: 'manual' }],
  };
}

/**
 * The transition the schedule makes due at `now`: a waiting draft starts at startsAt (or ends directly if
 * its whole window has passed); an ACTIVE or PAUSED campaign ends at endsAt. Mirrors the scheduler's SQL.
 */
export function dueStatus(state: StatusState, now: Date): 'ACTIVE' | 'ENDED' | null {
  if (state.status === 'DRAFT' && state.autoStart && (state.startsAt === null || passed(state.startsAt, now))) {
    return passed(state.endsAt, now) ? 'ENDED' : 'ACTIVE';
  }
  if ((state.status === 'ACTIVE' || state.status === 'PAUSED') && passed(state.endsAt, now)) return 'ENDED';
  return null;
}

/** Applies what the schedule makes due, so an edit never leaves a campaign in a state the scheduler would fix later. */
export function settle(state: StatusState, now: Date): { state: StatusState; changes: StatusChange[] } {
  const due = dueStatus(state, now);
  if (due === null) return { state, changes: [] };
  return {
    state: { ...state, status: due, autoStart: false },
    changes: [{ previousStatus: state.status, status: due, reason: 'schedule' }],
  };
}

// ------------------------------------------------------------------ stored -> JSON

export const tierAmountToJson = (minor: string) => minorToJsonNumber(BigInt(minor), TIER_AMOUNT_DIGITS);
export const percentToJson = (percent: string) => Number(percent);
