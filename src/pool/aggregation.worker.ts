// Worker entry: only wraps domain code. Columns come in transferred; result columns go back the
// same way. A domain refusal is a reply (its message names fields, never values); anything else
// is thrown and the pool turns it into a generic error.
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { ColumnarInput, ColumnarResult } from '../domain/columnar.js';
import { AggregationInputError } from '../domain/errors.js';
import { runEngine } from '../domain/engine.js';

export interface WorkerTask {
  readonly columns: ColumnarInput;
}

export type WorkerReply =
  | { readonly ok: true; readonly result: ColumnarResult }
  | { readonly ok: false; readonly refusal: string };

export default function aggregateTask(task: WorkerTask): WorkerReply {
  let result: ColumnarResult;
  try {
    result = runEngine(task.columns);
  } catch (error) {
    if (error instanceof AggregationInputError) return { ok: false, refusal: error.message };
    throw error;
  }
  const reply: WorkerReply = { ok: true, result };
  // piscina transfers what a Transferable lists; the reply itself travels as the surrogate value.
  return move({
    get [transferableSymbol]() { return [result.returns.buffer]; },
    get [valueSymbol]() { return reply; },
  }) as unknown as WorkerReply;
}
