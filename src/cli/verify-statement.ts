// `enclave verify-statement FILE [--series FILE] [--public-key HEX] [--older FILE]`: checks a
// track-record statement offline (src/crypto/statement.ts): its signature, the signing key against
// a trusted one (the statement-signing key of a verified enclave), the published series against
// the chain head, and that it extends an older statement (no fork). Exit 0 when every check given
// passes, 1 when one fails, 2 on usage errors.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chainExtends, parseSeries, parseStatement, verifyStatement } from '../crypto/statement.js';
import { StatementVerificationError } from '../crypto/track-record.js';

export const VERIFY_STATEMENT_USAGE = `usage: enclave verify-statement FILE [--series FILE] [--public-key HEX] [--older FILE]
  FILE            the statement (JSON, as GetTrackRecordStatement / enclave statement returns it)
  --series FILE   the published hourly series: JSON [{"hourStartMs","return","flags"}] (hourly_returns)
  --public-key    hex raw Ed25519 statement-signing key the statement must be signed by
  --older FILE    an earlier statement of the same account: the series must extend its chain (no fork)`;

export function runVerifyStatement(argv: readonly string[], io: { out(line: string): void; err(line: string): void }): number {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, // --target is accepted (and unused) so the command sits with the others in scripts; it never calls the service.
    options: { series: { type: 'string' }, 'public-key': { type: 'string' }, older: { type: 'string' }, help: { type: 'boolean' }, target: { type: 'string' } } });
  } catch (error) {
    io.err(`enclave verify-statement: ${(error as Error).message}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) { io.out(VERIFY_STATEMENT_USAGE); return 0; }
  const file = positionals[0];
  if (file === undefined || positionals.length !== 1) { io.err(VERIFY_STATEMENT_USAGE); return 2; }
  const key = values['public-key'];
  if (key !== undefined && !/^[0-9a-fA-F]{64}$/u.test(key)) { io.err('enclave verify-statement: --public-key must be 64 hex digits'); return 2; }
  if (values.older !== undefined && values.series === undefined) { io.err('enclave verify-statement: --older needs --series'); return 2; }
  try {
    const signed = parseStatement(readFileSync(file, 'utf8'));
    const series = values.series === undefined ? undefined : parseSeries(readFileSync(values.series, 'utf8'));
    const check = verifyStatement(signed, { ...(key === undefined ? {} : { trustedPublicKey: Buffer.from(key, 'hex') }), ...(series === undefined ? {} : { series }) });
    const s = signed.statement;
    io.out(`signature    ok (key ${s.signingKey})`);
    io.out(`signing key  ${check.trustedKey === true ? (check.handovers === 0 ? 'the trusted one' : `handed over from the trusted one (${check.handovers} rotation${check.handovers === 1 ? '' : 's'})`) : 'NOT CHECKED (give --public-key from a verified attestation)'}`);
    io.out(`series       ${check.series === true ? `hashes to the chain head (${s.chain.hours} hours)` : 'NOT CHECKED (give --series)'}`);
    if (values.older !== undefined && series !== undefined) {
      const older = parseStatement(readFileSync(values.older, 'utf8'));
      if (!chainExtends(older, signed, series)) {
        io.err('enclave verify-statement: FORK: this statement\'s chain does not extend the older statement\'s head (the record was rewritten)');
        return 1;
      }
      io.out(`older        extended (its ${older.statement.chain.hours} hours are a prefix)`);
    }
    io.out(`account ${s.account} on ${s.venue}: ${s.hours} hours, TWR ${s.timeWeightedReturn}, max drawdown ${s.maxDrawdown}, flagged share ${s.flaggedHourShare}`);
    return 0;
  } catch (error) {
    if (error instanceof StatementVerificationError) { io.err(`enclave verify-statement: FAILED: ${error.message}`); return 1; }
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') { io.err(`enclave verify-statement: ${error.message}`); return 2; }
    throw error;
  }
}
