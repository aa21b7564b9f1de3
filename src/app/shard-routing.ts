// Commands for an account whose shard another instance holds (issue 18). The supervisor refuses
// them with NotShardOwnerError; this adapter, in front of it for the gRPC API, looks up the
// current owner so the refusal carries a retry hint and, when there is one, the owner's address.
// (Forwarding the command to the owner over mTLS, one hop, is the next step: see docs/scale-out.md.)
import { NotShardOwnerError } from '../actors/errors.js';
import type { Supervisor } from '../actors/supervisor.js';
import type { AccountKey } from '../domain/types.js';
import { accountId } from '../domain/types.js';
import type { PlacementRepository } from '../storage/placement.js';
import type { LeaseBook } from '../storage/shard-fence.js';

export interface ShardRoutingOptions {
  readonly book: Pick<LeaseBook, 'shardOf' | 'instanceId'>;
  readonly placement: Pick<PlacementRepository, 'ownerOf'>;
  /** Suggested wait before a retry (one lease poll: TTL/3). */
  readonly retryAfterMs: number;
}

export function withShardRouting(supervisor: Supervisor, options: ShardRoutingOptions): Supervisor {
  const refine = async (account: AccountKey, error: unknown): Promise<never> => {
    if (!(error instanceof NotShardOwnerError)) throw error;
    let owner = null;
    try {
      owner = await options.placement.ownerOf(options.book.shardOf(account));
    } catch {
      // The database cannot say: the plain retry hint stands.
    }
    const elsewhere = owner !== null && owner.instanceId !== options.book.instanceId ? owner.addr : null;
    throw new NotShardOwnerError(`${accountId(account)}: its shard is ${elsewhere === null ? 'not owned right now' : 'owned by another instance'}`, options.retryAfterMs, elsewhere);
  };
  return {
    ...supervisor,
    sync: (account, mode, call) => supervisor.sync(account, mode, call).catch((error: unknown) => refine(account, error)),
    register: (account, sealed, signal, opts) => supervisor.register(account, sealed, signal, opts).catch((error: unknown) => refine(account, error)),
    remove: (account, keep, signal) => supervisor.remove(account, keep, signal).catch((error: unknown) => refine(account, error)),
  };
}
