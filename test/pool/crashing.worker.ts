// A worker entry for tests: the real one, except that some base currencies make it fail for real.
import aggregateTask, { type WorkerReply, type WorkerTask } from '../../src/pool/aggregation.worker.js';

export const CANARY = 'canary-fill-7f3a quantity 0.424242';

export default function crashingTask(task: WorkerTask): WorkerReply | Promise<WorkerReply> {
  switch (task.columns.baseCurrency) {
    case 'EXIT':
      process.exit(7);
      break;
    case 'THROW':
      throw new Error(CANARY);
    case 'UNCAUGHT':
      setImmediate(() => { throw new Error(CANARY); });
      return new Promise<WorkerReply>(() => undefined);
    case 'HANG':
      return new Promise<WorkerReply>(() => undefined);
    default:
      break;
  }
  return aggregateTask(task);
}
