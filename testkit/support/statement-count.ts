// How many statements the pg driver sends while some work runs: slonik's pool and the COPY path
// both end in pg.Client#query (transaction control included), so this counts every round trip.
import pg from 'pg';

/** Statements sent by every pg client of this process while `work` runs. */
export async function countStatements(work: () => Promise<unknown>): Promise<number> {
  let statements = 0;
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function counting(this: pg.Client, ...args: unknown[]) {
    statements += 1;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof pg.Client.prototype.query;
  try {
    await work();
  } finally {
    pg.Client.prototype.query = original;
  }
  return statements;
}
