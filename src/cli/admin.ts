import type { Services } from '../services.js';
import { FEATURES } from '../modules/partners/partners.schemas.js';

export const ADMIN_USAGE = `
  partners list [STATUS]                      list partners (optionally PENDING_APPROVAL|ACTIVE|SUSPENDED)
  partners show ID
  partners approve ID                         allow production (also lifts a suspension)
  partners suspend ID
  partners set-tier ID STANDARD|PROFESSIONAL|ENTERPRISE
  partners set-rate-limit ID N
  partners set-features ID F1,F2              features: ${FEATURES.join(', ')}
  partners set-ip-allowlist ID CIDR,...|none
  payments create-account PARTNER_ID [sandbox|production]
                                              a Payments API account; prints its secret key once
  payments accounts PARTNER_ID                list a partner's Payments API accounts
  payments add-connected-account ACCOUNT_ID PERCENT [DESCRIPTION]
                                              a Connect account taking PERCENT of each donation
  every-org intake-url                        the URL to register for Every.org's donation notifications`;

type Print = (line: string) => void;

const TIERS = ['STANDARD', 'PROFESSIONAL', 'ENTERPRISE'] as const;
const STATUSES = ['PENDING_APPROVAL', 'ACTIVE', 'SUSPENDED'] as const;
/** The operator API's bound (AdminPartnerPatch.rateLimit); the column is a 32-bit integer. */
const MAX_RATE_LIMIT = 10_000_000;

function requireArg(value: string | undefined, what: string): string {
  if (!value) throw new CliUsageError(`missing ${what}`);
  return value;
}

export class CliUsageError extends Error {
  override name = 'AppError';
}

/** The operator API's actions as commands, run through the same services. Returns false if unknown. */
export async function runAdminCommand(services: Services, command: string, args: string[], print: Print): Promise<boolean> {
  if (command === 'payments') return runPaymentsCommand(services, args, print);
  if (command === 'every-org') {
    if (args[0] !== 'intake-url') throw new CliUsageError(`unknown every-org subcommand "${args[0] ?? ''}"`);
    const setup = services.donations.everyOrgSetup();
    print(setup.intakeUrl);
    print(`Links carry webhook_token=${setup.webhookToken}; set ALMONER_EVERYORG_WEBHOOK_TOKEN to the token Every.org issued you.`);
    return true;
  }
  if (command !== 'partners') return false;
  const [sub, id, value] = args;
  const { partners } = services;
  const show = (p: object) => print(JSON.stringify(p, null, 2));
  switch (sub) {
    case 'list': {
      // Checked like set-tier: an unchecked "active" or a typo used to list nothing and print
      // "0 partner(s)", which reads as "there are none" rather than "bad argument".
      const status = id?.toUpperCase();
      if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
        throw new CliUsageError(`status must be one of ${STATUSES.join(', ')}`);
      }
      // Page through everything: one page of 100 printed a total larger than the lines shown.
      let total = 0;
      for (let n = 1; ; n++) {
        const page = await partners.listPartners({ page: n, limit: 100, status: status as (typeof STATUSES)[number] | undefined });
        for (const p of page.data) print(`${p.id}  ${p.status.padEnd(16)} ${p.tier.padEnd(12)} ${p.slug}  ${p.name}`);
        total = page.total;
        if (page.data.length < 100 || n * 100 >= page.total) break;
      }
      print(`${total} partner(s)`);
      return true;
    }
    case 'show':
      show(await partners.partnerInfo(requireArg(id, 'partner id')));
      return true;
    case 'approve':
      show(await partners.setStatus(requireArg(id, 'partner id'), 'ACTIVE'));
      return true;
    case 'suspend':
      show(await partners.setStatus(requireArg(id, 'partner id'), 'SUSPENDED'));
      return true;
    case 'set-tier': {
      const tier = requireArg(value, 'tier').toUpperCase();
      if (!(TIERS as readonly string[]).includes(tier)) throw new CliUsageError(`tier must be one of ${TIERS.join(', ')}`);
      show(await partners.updatePartner(requireArg(id, 'partner id'), { tier: tier as (typeof TIERS)[number] }));
      return true;
    }
    case 'set-rate-limit': {
      const n = requireArg(value, 'rate limit');
      // The upper bound matches the HTTP schema; without it a large value reached PostgreSQL and
      // failed there with "out of range for type integer" instead of a usage message.
      if (!/^\d+$/.test(n) || Number(n) < 1 || Number(n) > MAX_RATE_LIMIT) {
        throw new CliUsageError(`rate limit must be a whole number from 1 to ${MAX_RATE_LIMIT}`);
      }
      show(await partners.updatePartner(requireArg(id, 'partner id'), { rateLimit: Number(n) }));
      return true;
    }
    case 'set-features': {
      const list = requireArg(value, 'features').split(',').map((f) => f.trim().toUpperCase()).filter(Boolean);
      const unknown = list.filter((f) => !(FEATURES as readonly string[]).includes(f));
      if (unknown.length) throw new CliUsageError(`unknown feature(s) ${unknown.join(', ')}; valid: ${FEATURES.join(', ')}`);
      show(await partners.updatePartner(requireArg(id, 'partner id'), { enabledFeatures: list as (typeof FEATURES)[number][] }));
      return true;
    }
    case 'set-ip-allowlist': {
      const raw = requireArg(value, 'allowlist');
      const list = raw === 'none' ? [] : raw.split(',').map((s) => s.trim()).filter(Boolean);
      show(await partners.updatePartner(requireArg(id, 'partner id'), { ipAllowlist: list }));
      return true;
    }
    default:
      throw new CliUsageError(`unknown partners subcommand "${sub ?? ''}"`);
  }
}

async function runPaymentsCommand(services: Services, args: string[], print: Print): Promise<boolean> {
  const [sub, id, value] = args;
  switch (sub) {
    case 'create-account': {
      const environment = (value ?? 'sandbox').toLowerCase();
      if (environment !== 'sandbox' && environment !== 'production') throw new CliUsageError('environment must be sandbox or production');
      const created = await services.paymentsAccounts.create(requireArg(id, 'partner id'), { environment });
      print(JSON.stringify(created, null, 2));
      print('The secret key is shown only now; the partner signs POST /api/partners/{accountId}/authenticate with it.');
      return true;
    }
    case 'accounts':
      print(JSON.stringify(await services.paymentsAccounts.listForPartner(requireArg(id, 'partner id')), null, 2));
      return true;
    case 'add-connected-account': {
      const percent = requireArg(value, 'percentage cut');
      if (!/^\d{1,3}(\.\d{1,2})?$/.test(percent) || Number(percent) > 100) throw new CliUsageError('percentage cut must be a number from 0 to 100 with at most 2 decimals');
      const description = args.slice(3).join(' ') || undefined;
      const created = await services.catalog.createConnected(requireArg(id, 'payments account id'), { percentageCut: Number(percent), ...(description ? { description } : {}) });
      print(JSON.stringify(created, null, 2));
      return true;
    }
    default:
      throw new CliUsageError(`unknown payments subcommand "${sub ?? ''}"`);
  }
}
