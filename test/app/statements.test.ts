// Issue 14, part 3: signed track-record statements over the published chain, checked offline.
import test from 'ava';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runVerifyStatement } from '../../src/cli/verify-statement.js';
import { verifyAttestedStatement } from '../../src/attestation/attested-statement.js';
import { attestationReportData } from '../../src/attestation/binding.js';
import { TEST_MEASUREMENT } from '../../testkit/attestation/synthetic-report.js';
import { testAmdChain } from '../../testkit/attestation/test-amd-chain.js';
import { createStatementIssuer } from '../../src/app/statements.js';
import { PublishedRecordError } from '../../src/actors/errors.js';
import { sealEnvelope } from '../../src/crypto/envelope.js';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { chainExtends, parseSeries, parseStatement, statementText, verifyStatement, type SignedStatement, type StatementBodyV2 } from '../../src/crypto/statement.js';
import { createCheckpointSigner, signText, StatementVerificationError } from '../../src/crypto/track-record.js';
import type { AccountKey, HourlyReturn } from '../../src/domain/types.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createCheckpointStore } from '../../src/storage/checkpoint-store.js';
import { StorageRejectedError } from '../../src/storage/errors.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { noRows, sql } from '../../src/storage/pool.js';
import { TEST_KEYRING } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1);

const keysOf = async () => deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });

function hours(from: number, count: number, bump: (i: number) => number = () => 0): HourlyReturn[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return { hourStart: T0 + i * HOUR, return: 0.001 * Math.sin(i) + bump(i), cumulativeReturn: 0, equityEnd: 10_000 + i, netFlow: 0, ...(i % 17 === 5 ? { flags: ['stale-mark' as const] } : {}) };
  });
}

/** What anyone reads from the gateway's publication: hour, return and flags, as JSON text. */
async function publishedSeries(account: AccountKey): Promise<string> {
  const client = new pg.Client({ connectionString: db().urlAs('gateway_user') });
  await client.connect();
  try {
    const { rows } = await client.query<{ t: string; return: number; flags: number }>(
      `SELECT (extract(epoch FROM hour_start) * 1000)::bigint::text AS t, return, flags FROM hourly_returns WHERE user_uid = $1 AND exchange = $2 ORDER BY hour_start`,
      [account.userUid, account.exchange]);
    return JSON.stringify(rows.map((r) => ({ hourStartMs: Number(r.t), return: r.return, flags: r.flags })));
  } finally {
    await client.end();
  }
}

async function setup(userUid: string) {
  const keys = await keysOf();
  const signer = createCheckpointSigner(keys);
  const account: AccountKey = { userUid, exchange: 'binance' };
  await createConnectionRepository(db().pool).saveConnection(account, sealEnvelope(TEST_KEYRING, account, Buffer.from('{"apiKey":"k","secret":"s"}')));
  const store = createAccountStore(db().pool, { checkpoints: signer });
  const issue = createStatementIssuer({ checkpoints: createCheckpointStore(db().pool), store, signer, codeMeasurement: 'unbuilt' });
  const publish = (h: HourlyReturn[]) => store.saveAggregates(account, { hourlyReturns: h, snapshot: null, engineState: undefined, performance: null });
  // Through the wire format: what a client stores in a file is JSON text.
  const statement = async (): Promise<SignedStatement> => parseStatement(JSON.stringify(await issue(account, null)));
  return { keys, signer, account, publish, statement, issue };
}

test('a statement verifies: signature, attested key and the published series hashing to its chain head', async (t) => {
  const { signer, account, publish, statement } = await setup('stmt-valid');
  await publish(hours(0, 48));
  const s = await statement();
  t.is(s.statement.hours, 48);
  t.is(s.statement.chain.hours, 48);
  t.regex(s.statement.account, /^acct_[0-9a-f]{32}$/u);
  t.false(JSON.stringify(s).includes('stmt-valid'), 'the statement names the pseudonym, not the account');
  t.is(s.statement.annualizedReturn, null, 'under a year: never annualized');
  t.true(s.statement.flaggedHourShare > 0);
  t.deepEqual(verifyStatement(s, { trustedPublicKey: signer.publicKey, series: parseSeries(await publishedSeries(account)) }), { signature: true, trustedKey: true, handovers: 0, series: true });
  // The next sync extends the chain: the newer statement's chain contains the older head.
  await publish(hours(48, 24));
  const later = await statement();
  t.is(later.statement.chain.hours, 72);
  t.true(chainExtends(s, later, parseSeries(await publishedSeries(account))));
});

test('editing one published hourly return in the database makes the verifier reject the series (and the enclave refuse to sign)', async (t) => {
  const { account, publish, statement, issue } = await setup('stmt-edit');
  await publish(hours(0, 48));
  const s = await statement();
  await db().pool.query(sql.type(noRows)`
    UPDATE hourly_returns SET return = return + 0.0001 WHERE user_uid = ${account.userUid} AND hour_start = ${new Date(T0 + 20 * HOUR).toISOString()}::timestamptz`);
  const series = parseSeries(await publishedSeries(account));
  const error = t.throws(() => verifyStatement(s, { series }), { instanceOf: StatementVerificationError });
  t.regex(error!.message, /does not hash to the signed chain head/u);
  await t.throwsAsync(issue(account, null), { instanceOf: PublishedRecordError });
});

test('replaying a rewritten history under a newer statement shows a fork: the newer chain does not extend the old head', async (t) => {
  const { account, publish, statement } = await setup('stmt-fork');
  await publish(hours(0, 48));
  const old = await statement();
  // A recomputation that changes hour 30 (e.g. a fill inserted by hand, then a full sync) starts a new chain.
  await publish(hours(0, 60, (i) => (i === 30 ? 0.05 : 0)));
  const newer = await statement();
  const series = parseSeries(await publishedSeries(account));
  t.true(verifyStatement(newer, { series }).series === true, 'the newer statement is consistent with what is published now');
  t.false(chainExtends(old, newer, series), 'but it does not extend what was stated before');
  t.throws(() => verifyStatement(old, { series }), { instanceOf: StatementVerificationError });
});

test('enclave verify-statement checks a statement file, its series and an older statement offline', async (t) => {
  const { signer, account, publish, statement } = await setup('stmt-cli');
  await publish(hours(0, 30));
  const dir = mkdtempSync(join(tmpdir(), 'statement-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => { const path = join(dir, name); writeFileSync(path, text); return path; };
  const older = write('older.json', JSON.stringify(await statement()));
  await publish(hours(30, 10));
  const file = write('statement.json', JSON.stringify(await statement()));
  const series = write('series.json', await publishedSeries(account));
  const run = (args: string[]) => { const out: string[] = []; const err: string[] = []; const code = runVerifyStatement(args, { out: (l) => out.push(l), err: (l) => err.push(l) }); return { code, out: out.join('\n'), err: err.join('\n') }; };
  const ok = run([file, '--series', series, '--public-key', signer.publicKey.toString('hex'), '--older', older]);
  t.is(ok.code, 0, ok.err);
  t.regex(ok.out, /series\s+hashes to the chain head \(40 hours\)/u);
  t.regex(ok.out, /older\s+extended/u);
  const edited = JSON.parse(await publishedSeries(account)) as { return: number }[];
  edited[7]!.return += 1e-9;
  t.is(run([file, '--series', write('edited.json', JSON.stringify(edited))]).code, 1);
  t.is(run([file, '--public-key', randomBytes(32).toString('hex')]).code, 1);
  await publish(hours(0, 45, (i) => (i === 3 ? 0.01 : 0)));
  const rewritten = write('rewritten.json', JSON.stringify(await statement()));
  const fork = run([rewritten, '--series', write('series2.json', await publishedSeries(account)), '--older', older]);
  t.is(fork.code, 1);
  t.regex(fork.err, /FORK/u);
  t.is(run([]).code, 2);
});

test('a statement signed by another key fails, and so does an edited statement', async (t) => {
  const { signer, publish, statement } = await setup('stmt-key');
  await publish(hours(0, 24));
  const s = await statement();
  const stranger = await keysOf();
  const forged: SignedStatement = {
    statement: { ...s.statement, signingKey: stranger.statementSigning.publicKey.toString('hex') },
    signature: '',
  };
  const signed = { ...forged, signature: (await signText(stranger.statementSigning.privateKey, statementText(forged.statement))).toString('base64') };
  t.notThrows(() => verifyStatement(signed), 'self-consistent on its own');
  t.throws(() => verifyStatement(signed, { trustedPublicKey: signer.publicKey }), { instanceOf: StatementVerificationError, message: /another key than the attested one/u });
  const edited: SignedStatement = { ...s, statement: { ...s.statement, timeWeightedReturn: s.statement.timeWeightedReturn + 0.1 } };
  t.throws(() => verifyStatement(edited, { trustedPublicKey: signer.publicKey }), { instanceOf: StatementVerificationError, message: /signature does not verify/u });
  t.throws(() => parseStatement('{"statement":{}}'), { instanceOf: StatementVerificationError });
});

test('statements are format version 2 (derivatives: null for a spot account); a version 1 statement issued before still parses and verifies', async (t) => {
  const { signer, account, publish, statement } = await setup('stmt-v1');
  await publish(hours(0, 24));
  const current = await statement();
  t.is(current.statement.v, 2);
  t.is((current.statement as StatementBodyV2).derivatives, null);
  const { derivatives: _omitted, ...members } = current.statement as StatementBodyV2;
  const v1 = { ...members, v: 1 as const };
  const old = JSON.stringify({ statement: v1, signature: (await signer.sign(statementText(v1))).toString('base64') });
  t.deepEqual(verifyStatement(parseStatement(old), { trustedPublicKey: signer.publicKey, series: parseSeries(await publishedSeries(account)) }), { signature: true, trustedKey: true, handovers: 0, series: true });
  // Each version has exactly its members: a version 1 document with a derivatives member is refused.
  t.throws(() => parseStatement(JSON.stringify({ ...JSON.parse(old), statement: { ...v1, derivatives: null } })), { instanceOf: StatementVerificationError });
});

test('after a rotation of the signing key the chain is handed over: rotate → sync → the statement verifies across the change', async (t) => {
  const rootOne = randomBytes(32);
  const before = await deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, rootOne]]) });
  // The rotated deployment: root 2 current, root 1 still released (as ENCRYPTION_KEYS / the broker's resource keeps it).
  const after = await deriveEnclaveKeys({ currentId: 2, secrets: new Map([[1, Buffer.from(rootOne)], [2, randomBytes(32)]]) });
  t.false(before.statementSigning.publicKey.equals(after.statementSigning.publicKey), 'the rotation changed the signing key');
  const account: AccountKey = { userUid: 'stmt-rotation', exchange: 'binance' };
  await createConnectionRepository(db().pool).saveConnection(account, sealEnvelope(TEST_KEYRING, account, Buffer.from('{"apiKey":"k","secret":"s"}')));
  const enclave = (keys: typeof before) => {
    const signer = createCheckpointSigner(keys);
    const store = createAccountStore(db().pool, { checkpoints: signer });
    const issue = createStatementIssuer({ checkpoints: createCheckpointStore(db().pool), store, signer, codeMeasurement: 'unbuilt' });
    return {
      signer,
      publish: (h: HourlyReturn[]) => store.saveAggregates(account, { hourlyReturns: h, snapshot: null, engineState: undefined, performance: null }),
      statement: async () => parseStatement(JSON.stringify(await issue(account, null))),
    };
  };
  const old = enclave(before);
  await old.publish(hours(0, 24));
  const first = await old.statement();
  const rotated = enclave(after);
  await rotated.publish(hours(24, 12));
  const second = await rotated.statement();
  t.is(second.statement.signingKey, after.statementSigning.publicKey.toString('hex'));
  t.is(second.statement.account, first.statement.account, 'the chain keeps its pseudonym across the rotation');
  t.is(second.statement.chain.hours, 36);
  t.is(second.handovers?.length, 1);
  t.is(second.handovers?.[0]?.handover.nextSigningKey, after.statementSigning.publicKey.toString('hex'));
  const series = parseSeries(await publishedSeries(account));
  // A verifier who attested the old enclave follows the hand-over to the new key; one who attested the new enclave trusts it directly.
  t.deepEqual(verifyStatement(second, { trustedPublicKey: before.statementSigning.publicKey, series }), { signature: true, trustedKey: true, handovers: 1, series: true });
  t.is(verifyStatement(second, { trustedPublicKey: after.statementSigning.publicKey, series }).handovers, 0);
  t.true(chainExtends(first, second, series), 'the newer chain extends the one signed by the old key');
  // A hand-over not signed by the trusted key, or a statement by a key nobody handed over to, is refused.
  const stranger = await keysOf();
  t.throws(() => verifyStatement(second, { trustedPublicKey: stranger.statementSigning.publicKey }), { instanceOf: StatementVerificationError });
  const forged = { ...second, handovers: [{ ...second.handovers![0]!, handover: { ...second.handovers![0]!.handover, nextSigningKey: stranger.statementSigning.publicKey.toString('hex') } }] };
  t.throws(() => verifyStatement(forged, { trustedPublicKey: before.statementSigning.publicKey }), { instanceOf: StatementVerificationError });
  // The CLI follows the hand-over too.
  const dir = mkdtempSync(join(tmpdir(), 'stmt-rotation-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 's.json'), JSON.stringify(second));
  writeFileSync(join(dir, 'series.json'), await publishedSeries(account));
  const out: string[] = [];
  const code = runVerifyStatement([join(dir, 's.json'), '--series', join(dir, 'series.json'), '--public-key', before.statementSigning.publicKey.toString('hex')], { out: (l) => out.push(l), err: (l) => out.push(l) });
  t.is(code, 0, out.join('\n'));
  t.true(out.some((l) => l.includes('handed over from the trusted one (1 rotation)')));
  // A later sync under the new key extends without another hand-over.
  await rotated.publish(hours(36, 6));
  t.is((await rotated.statement()).handovers?.length, 1);
});

test('a checkpoint signed by a key this deployment never held is still refused', async (t) => {
  const { publish } = await setup('stmt-foreign');
  await publish(hours(0, 6));
  const foreign = await keysOf();
  const store = createAccountStore(db().pool, { checkpoints: createCheckpointSigner(foreign) });
  await t.throwsAsync(store.saveAggregates({ userUid: 'stmt-foreign', exchange: 'binance' }, { hourlyReturns: hours(6, 2), snapshot: null, engineState: undefined, performance: null }), { instanceOf: StorageRejectedError });
});

test('verify-statement checks the attestation itself: the report, its binding of the signing key and build, the release measurements, then signature and series', async (t) => {
  const { keys, signer, account, publish, statement } = await setup('stmt-attested');
  await publish(hours(0, 30));
  const s = await statement();
  const series = parseSeries(await publishedSeries(account));
  const chain = await testAmdChain();
  const nonce = randomBytes(32);
  // What `enclave attest` returns for this enclave: REPORT_DATA binds the nonce, the intake key, no TLS, the (unbuilt) build and the signing key.
  const reportFor = (signingKey: Buffer, fields: Partial<Parameters<typeof chain.report>[0]> = {}) => chain.report({
    reportData: attestationReportData({ nonce, enclavePublicKey: keys.intake.publicKey, tlsCertificateFingerprint: null, buildHash: null, statementSigningKey: signingKey }), ...fields,
  });
  const evidence = (report: Buffer, pinnedBuildHash: string | null = null) => ({
    report, nonce, enclavePublicKey: keys.intake.publicKey, tlsCertificateFingerprint: null,
    policy: { measurements: [TEST_MEASUREMENT], hostData: Buffer.alloc(32, 0x33) },
    endorsements: { ask: chain.ask, ark: chain.ark, vcek: chain.vcek, trustedArks: { Milan: [chain.ark.fingerprint256], Genoa: [chain.ark.fingerprint256], Turin: [chain.ark.fingerprint256] } },
    pinnedBuildHash,
  });
  const good = verifyAttestedStatement(s, evidence(reportFor(signer.publicKey)), { series });
  t.true(good.attestation.ok && good.trustedKey === true && good.series === true);
  // Each failure is caught: a report binding another signing key, another launch measurement, a manifest pinning another build, an edited series.
  const other = (await keysOf()).statementSigning.publicKey;
  t.throws(() => verifyAttestedStatement(s, evidence(reportFor(other))), { instanceOf: StatementVerificationError, message: /report-data/u });
  t.throws(() => verifyAttestedStatement(s, evidence(reportFor(signer.publicKey, { measurement: Buffer.alloc(48, 0x6b) }))), { instanceOf: StatementVerificationError, message: /measurement/u });
  t.throws(() => verifyAttestedStatement(s, evidence(reportFor(signer.publicKey), 'ab'.repeat(32))), { instanceOf: StatementVerificationError, message: /another build/u });
  const edited = series.map((h, i) => (i === 3 ? { ...h, return: h.return + 1e-9 } : h));
  t.throws(() => verifyAttestedStatement(s, evidence(reportFor(signer.publicKey)), { series: edited }), { instanceOf: StatementVerificationError, message: /series/u });

  // The CLI with the same evidence as files.
  const dir = mkdtempSync(join(tmpdir(), 'stmt-attested-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string | Buffer) => { writeFileSync(join(dir, name), content); return join(dir, name); };
  const args = (report: Buffer, n: Buffer = nonce) => [
    file('s.json', JSON.stringify(s)), '--series', file('series.json', seriesText(series)),
    '--report', file('report.hex', report.toString('hex')), '--nonce', n.toString('hex'), '--intake-key', keys.intake.publicKey.toString('hex'), '--no-tls',
    '--manifest', file('manifest.json', JSON.stringify({ schema: 'track-record-enclave/release-manifest/v1', version: 'test', measurements: [TEST_MEASUREMENT.toString('hex')], hostData: '33'.repeat(32), buildHash: null })),
    '--vcek', file('vcek.pem', chain.vcek.toString()), '--cert-chain', file('chain.pem', `${chain.ask.toString()}${chain.ark.toString()}`),
    '--trusted-ark-sha256', chain.ark.fingerprint256,
  ];
  const run = (argv: string[]) => {
    const out: string[] = [];
    return { code: runVerifyStatement(argv, { out: (l) => out.push(l), err: (l) => out.push(l) }), out };
  };
  const ok = run(args(reportFor(signer.publicKey)));
  t.is(ok.code, 0, ok.out.join('\n'));
  t.true(ok.out.some((l) => l.startsWith('attestation  ok')));
  const stale = run(args(reportFor(signer.publicKey), randomBytes(32)));
  t.is(stale.code, 1, 'a report for another nonce is refused');
  t.true(stale.out.some((l) => l.includes('FAILED') && l.includes('report-data')));
  const missing = run(args(reportFor(signer.publicKey)).filter((a) => a !== '--no-tls'));
  t.is(missing.code, 2);
});

/** The series as the gateway serves it (JSON text of hour, return, flags). */
function seriesText(series: readonly { hourStart: number; return: number; flags: number }[]): string {
  return JSON.stringify(series.map((h) => ({ hourStartMs: h.hourStart, return: h.return, flags: h.flags })));
}
