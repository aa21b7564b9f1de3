// The connection and attestation handlers: validation before the port, status mapping after it.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { SealedCredentialError } from '../../src/crypto/errors.js';
import { WritableCredentialError } from '../../src/domain/errors.js';
import { PARKED_REASONS } from '../../src/domain/types.js';
import { AccountNotFoundError } from '../../src/actors/errors.js';
import { ConnectionStatus, ParkedReason } from '../../src/grpc/generated/enclave.js';
import { connectionInfoFromWire } from '../../src/grpc/wire.js';
import { isServiceError, startHarness, unary, type Harness } from '../../testkit/support/grpc-client.js';

let h: Harness;
test.before(async () => {
  h = await startHarness();
});
test.after.always(async () => {
  await h.close();
});

async function codeOf(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
    return { code: status.OK, details: '' };
  } catch (error) {
    if (!isServiceError(error)) throw error;
    return { code: error.code, details: error.details };
  }
}

test.serial('RegisterConnection validates the account and the ciphertext size before asking the port', async (t) => {
  const before = h.port.calls.length;
  const bad = await codeOf(unary(h.client.registerConnection.bind(h.client), { userUid: 'bad uid;', exchange: 'nasdaq', sealedCredential: Buffer.alloc(0), acceptTradingKeyRisk: false, disclosureLevel: 0 }));
  t.is(bad.code, status.INVALID_ARGUMENT);
  t.regex(bad.details, /user_uid: .*exchange: .*sealed_credential: must be 1 to 16384 bytes/u);
  t.is(h.port.calls.length, before, 'the port was not asked');
});

test.serial('RegisterConnection maps refused credentials to INVALID_ARGUMENT with their fixed reason', async (t) => {
  h.port.behaviour.registerConnection = () => Promise.reject(new SealedCredentialError('unopenable'));
  const unopenable = await codeOf(unary(h.client.registerConnection.bind(h.client), { userUid: 'u1', exchange: 'binance', sealedCredential: Buffer.alloc(80, 1), acceptTradingKeyRisk: false, disclosureLevel: 0 }));
  t.deepEqual(unopenable, { code: status.INVALID_ARGUMENT, details: 'the sealed credential cannot be opened for this account by this enclave' });
  h.port.behaviour.registerConnection = () => Promise.reject(new WritableCredentialError('the API key has trading rights (spot_trade)'));
  const writable = await codeOf(unary(h.client.registerConnection.bind(h.client), { userUid: 'u1', exchange: 'binance', sealedCredential: Buffer.alloc(80, 1), acceptTradingKeyRisk: false, disclosureLevel: 0 }));
  t.deepEqual(writable, { code: status.INVALID_ARGUMENT, details: 'the API key has trading rights (spot_trade)' });
  delete h.port.behaviour.registerConnection;
});

test.serial('RegisterConnection passes accept_trading_key_risk through; GetRegistrationChallenge validates the account and returns the port\'s challenge', async (t) => {
  const seen: boolean[] = [];
  h.port.behaviour.registerConnection = async (_account, _sealed, options) => {
    seen.push(options.acceptTradingKeyRisk);
    return { status: 'active', permissionsChecked: true };
  };
  for (const acceptTradingKeyRisk of [true, false]) {
    await unary(h.client.registerConnection.bind(h.client), { userUid: 'u1', exchange: 'alpaca', sealedCredential: Buffer.alloc(80, 1), acceptTradingKeyRisk, disclosureLevel: 0 });
  }
  t.deepEqual(seen, [true, false]);
  delete h.port.behaviour.registerConnection;
  const issued = await unary(h.client.getRegistrationChallenge.bind(h.client), { userUid: 'u1', exchange: 'alpaca' });
  t.deepEqual(Buffer.from(issued.challenge), Buffer.alloc(32, 9));
  t.true(issued.expiresAtMs > 0);
  const bad = await codeOf(unary(h.client.getRegistrationChallenge.bind(h.client), { userUid: 'bad uid;', exchange: 'alpaca' }));
  t.is(bad.code, status.INVALID_ARGUMENT);
});

test.serial('RemoveConnection passes keep_aggregates through; GetAttestation checks the nonce length', async (t) => {
  let kept: boolean | undefined;
  h.port.behaviour.removeConnection = async (_account, keep) => {
    kept = keep;
    return true;
  };
  const reply = await unary(h.client.removeConnection.bind(h.client), { userUid: 'u1', exchange: 'bybit', keepAggregates: true });
  t.true(reply.removed);
  t.true(kept);
  delete h.port.behaviour.removeConnection;
  const short = await codeOf(unary(h.client.getAttestation.bind(h.client), { nonce: Buffer.alloc(15) }));
  t.deepEqual(short, { code: status.INVALID_ARGUMENT, details: 'nonce: must be 16 to 64 bytes' });
  const unavailable = await codeOf(unary(h.client.getAttestation.bind(h.client), { nonce: Buffer.alloc(16) }));
  t.is(unavailable.code, status.FAILED_PRECONDITION);
});

test.serial('ReviveConnection asks the port for the account and answers whether it was parked', async (t) => {
  const revived: string[] = [];
  h.port.behaviour.reviveConnection = async (account) => {
    revived.push(`${account.exchange}:${account.userUid}`);
    return account.userUid === 'parked-user';
  };
  try {
    t.deepEqual(await unary(h.client.reviveConnection.bind(h.client), { userUid: 'parked-user', exchange: 'bitget' }), { revived: true });
    t.deepEqual(await unary(h.client.reviveConnection.bind(h.client), { userUid: 'active-user', exchange: 'bitget' }), { revived: false });
    t.deepEqual(revived, ['bitget:parked-user', 'bitget:active-user']);
  } finally {
    delete h.port.behaviour.reviveConnection;
  }
});

test.serial('ReviveConnection of an unknown account is NOT_FOUND, and it validates before asking', async (t) => {
  h.port.behaviour.reviveConnection = () => Promise.reject(new AccountNotFoundError('bitget:nobody CANARY'));
  try {
    const unknown = await codeOf(unary(h.client.reviveConnection.bind(h.client), { userUid: 'nobody', exchange: 'bitget' }));
    t.deepEqual(unknown, { code: status.NOT_FOUND, details: 'no account is connected for this user and exchange' });
    const before = h.port.calls.length;
    const bad = await codeOf(unary(h.client.reviveConnection.bind(h.client), { userUid: 'x y', exchange: 'kraken' }));
    t.is(bad.code, status.INVALID_ARGUMENT);
    t.regex(bad.details, /^user_uid: .*; exchange: /u);
    t.is(h.port.calls.length, before, 'the port was not asked');
  } finally {
    delete h.port.behaviour.reviveConnection;
  }
});

test.serial('ListConnections carries the reason class of each parked account, and none for the others', async (t) => {
  h.port.behaviour.listConnections = async () => [
    { account: { userUid: 'ok', exchange: 'binance' }, status: 'active', parkedReason: null, disclosureLevel: 'full' },
    ...PARKED_REASONS.map((reason) => ({ account: { userUid: `parked-${reason}`, exchange: 'binance' as const }, status: 'failed' as const, parkedReason: reason, disclosureLevel: 'returns' as const })),
  ];
  try {
    const reply = await unary(h.client.listConnections.bind(h.client), {});
    t.deepEqual(
      reply.connections.map((c) => [c.userUid, c.status, c.parkedReason]),
      [
        ['ok', ConnectionStatus.CONNECTION_STATUS_ACTIVE, ParkedReason.PARKED_REASON_UNSPECIFIED],
        ['parked-venue_auth', ConnectionStatus.CONNECTION_STATUS_FAILED, ParkedReason.PARKED_REASON_VENUE_AUTH],
        ['parked-venue_unavailable', ConnectionStatus.CONNECTION_STATUS_FAILED, ParkedReason.PARKED_REASON_VENUE_UNAVAILABLE],
        ['parked-internal', ConnectionStatus.CONNECTION_STATUS_FAILED, ParkedReason.PARKED_REASON_INTERNAL],
        ['parked-tamper', ConnectionStatus.CONNECTION_STATUS_FAILED, ParkedReason.PARKED_REASON_TAMPER],
      ],
    );
    t.deepEqual(reply.connections.map(connectionInfoFromWire), await h.port.behaviour.listConnections({ signal: new AbortController().signal }));
  } finally {
    delete h.port.behaviour.listConnections;
  }
});
