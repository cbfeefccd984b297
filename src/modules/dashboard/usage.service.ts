import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { UsageRow } from '../../platform/http/usage.js';
import { usageRepo } from './usage.repo.js';

export class UsageService {
  constructor(private readonly db: Kysely<Database>) {}

  record(rows: UsageRow[]) {
    return usageRepo.addCounts(this.db, rows);
  }

  totals(partnerId: string) {
    return usageRepo.totals(this.db, partnerId);
  }
}
