import test from 'ava';
import { status } from '@grpc/grpc-js';
import { NotShardOwnerError } from '../../src/actors/errors.js';
import { createSupervisor } from '../../src/actors/supervisor.js';
import { withShardRouting } from '../../src/app/shard-routing.js';
import { RETRY_AFTER_MS_KEY, SHARD_OWNER_KEY, toGrpcStatus } from '../../src/grpc/errors.js';
import { createLeaseBook } from '../../src/storage/shard-fence.js';
import type { ShardOwner } from '../../src/storage/placement.js';
import type { AccountActorDeps } from '../../src/actors/account-actor.js';

const account = { userUid: 'routed-user', exchange: 'binance' } as const;

/** A real supervisor whose instance holds no shard: every command is refused before any actor or store is touched. */
function supervisorOwningNothing() {
  const book = createLeaseBook('me', 16);
  const supervisor = createSupervisor({ deps: {} as Omit<AccountActorDeps, 'metrics' | 'fullSyncGate'>, owns: (a) => book.owns(a) });
  return { book, supervisor };
}

for (const [label, owner, expectedOwner] of [
  ['no instance owns the shard', null, undefined],
  ['another instance owns the shard', { instanceId: 'other', addr: '10.0.0.2:50051' }, '10.0.0.2:50051'],
] as const) {
  test(`a sync refused because ${label} maps to UNAVAILABLE with a retry hint`, async (t) => {
    const { book, supervisor } = supervisorOwningNothing();
    const asked: number[] = [];
    const routed = withShardRouting(supervisor, {
      book, retryAfterMs: 5_000,
      placement: { ownerOf: async (shard): Promise<ShardOwner | null> => { asked.push(shard); return owner; } },
    });
    const error = await t.throwsAsync(routed.sync(account, 'incremental'), { instanceOf: NotShardOwnerError });
    t.deepEqual(asked, [book.shardOf(account)]);
    const mapped = toGrpcStatus(error);
    t.is(mapped.code, status.UNAVAILABLE);
    t.deepEqual(mapped.metadata?.get(RETRY_AFTER_MS_KEY), ['5000']);
    t.deepEqual(mapped.metadata?.get(SHARD_OWNER_KEY)[0], expectedOwner);
    t.false(mapped.details.includes(account.userUid));
    await t.throwsAsync(routed.remove(account, false), { instanceOf: NotShardOwnerError });
    await supervisor.shutdown(10);
  });
}
