import { sql, type SelectQueryBuilder } from 'kysely';

/**
 * One page of an ordered, filtered query and the total count, in one round trip: the window count
 * rides along with the rows. Only a page past the end (no rows to carry it) costs a second query.
 */
export async function pageWithTotal<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  offset: number,
  limit: number,
): Promise<{ rows: O[]; total: number }> {
  const rows = (await query.select(sql<string>`count(*) OVER ()`.as('total_count')).offset(offset).limit(limit).execute()) as unknown as (O & {
    total_count: string;
  })[];
  if (rows.length > 0) {
    const total = Number(rows[0]!.total_count);
    return { rows: rows.map(({ total_count: _, ...row }) => row as unknown as O), total };
  }
  const count = await query.clearSelect().clearOrderBy().select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow();
  return { rows: [], total: Number((count as { n: string }).n) };
}
