// The API must not be able to carry a fill, a trade id, a credential or an order. This walks the
// descriptors protoc compiles from proto/ (not the generated TypeScript) and checks every message,
// enum and field against rules a reviewer can read.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary } from '@bufbuild/protobuf';
import {
  FieldDescriptorProto_Type,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';

const root = fileURLToPath(new URL('../..', import.meta.url));

function compile(includeDir: string, file: string): FileDescriptorProto[] {
  const out = mkdtempSync(join(tmpdir(), 'descriptors-'));
  try {
    const set = join(out, 'set.bin');
    execFileSync(process.execPath, [join(root, 'node_modules/protoc/protoc.cjs'), `-I${includeDir}`, `--descriptor_set_out=${set}`, '--include_imports', file]);
    return fromBinary(FileDescriptorSetSchema, readFileSync(set)).file;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Names that say "this is an execution, an order or a secret". Matched on snake_case parts. */
const FORBIDDEN_NAME = /(^|_)(trades?|fills?|orders?|executions?|exec|credentials?|secrets?|api_?keys?|keys?|passphrases?|passwords?|signatures?|signed|tokens?|nonces?|envelopes?|tx_?id|txids?|client_order_id)(_|$)/u;
const FORBIDDEN_TYPE = /(Trade|Fill|Order|Execution|Credential|Secret|ApiKey|Key|Signature|Envelope|Token)/u;

/**
 * Integer counts are fine even when named after what they count. Every text field is listed:
 * a new string or bytes field fails this test until someone reviews what it can carry.
 */
const ALLOWED_COUNTS = new Set([
  'enclave.v1.ProcessSyncJobResponse.fills_synced',
  'enclave.v1.SyncJobProgress.fills_fetched',
  'enclave.v1.SyncJobProgress.fill_pages',
]);
/** Streams reviewed to carry only the messages the rules above check. */
const ALLOWED_STREAMS = new Set(['EnclaveService.WatchSyncJob']);
/**
 * Reviewed one by one: fields whose names or bytes type the rules above refuse, and why each is
 * safe. Exempt from the name and bytes rules only; nothing else about them is relaxed.
 */
const REVIEWED_OPAQUE = new Map<string, string>([
  // HPKE ciphertext sealed on the client to the enclave key: only the enclave can open it, and it
  // only flows inward (no reply carries it).
  ['enclave.v1.RegisterConnectionRequest.sealed_credential', 'inbound ciphertext'],
  // The enclave's X25519 public key: public by design, clients seal to it.
  ['enclave.v1.GetEnclaveIdentityResponse.hpke_public_key', 'public key'],
  // The enclave's Ed25519 statement-signing public key (issue 14): public by design, statements verify with it.
  ['enclave.v1.GetEnclaveIdentityResponse.statement_signing_key', 'public key'],
  // The verifier's attestation challenge (not a venue signing nonce).
  ['enclave.v1.GetAttestationRequest.nonce', 'verifier challenge'],
  // The SEV-SNP report and parts of it: public evidence about the machine, no account data.
  ['enclave.v1.GetAttestationResponse.report', 'attestation report'],
  ['enclave.v1.GetAttestationResponse.report_data', 'hash bound into the report'],
  ['enclave.v1.GetAttestationResponse.measurement', 'launch measurement'],
  // 32 random bytes the enclave issues for one registration: no account data, single use.
  ['enclave.v1.GetRegistrationChallengeResponse.challenge', 'registration challenge'],
  // A bool (the Alpaca trading-key opt-in): it names a key but cannot carry one.
  ['enclave.v1.RegisterConnectionRequest.accept_trading_key_risk', 'boolean opt-in'],
]);
const ALLOWED_TEXT = new Set([
  'enclave.v1.ProcessSyncJobRequest.user_uid',
  'enclave.v1.ProcessSyncJobRequest.exchange',
  'enclave.v1.ProcessSyncJobResponse.data_gap_kinds',
  'enclave.v1.ProcessSyncJobResponse.error',
  'enclave.v1.CalculateHistoricalReturnsRequest.user_uid',
  'enclave.v1.CalculateHistoricalReturnsRequest.exchange',
  'enclave.v1.GetAggregatedMetricsRequest.user_uid',
  'enclave.v1.GetAggregatedMetricsRequest.exchange',
  'enclave.v1.GetSnapshotTimeSeriesRequest.user_uid',
  'enclave.v1.GetSnapshotTimeSeriesRequest.exchange',
  'enclave.v1.HealthCheckResponse.version',
  // Issue 18, reviewed: the instance's id, a random UUID drawn at each start (placement.owner_id), no account data.
  'enclave.v1.HealthCheckResponse.instance_id',
  'enclave.v1.GetEnclaveIdentityResponse.service_version',
  'enclave.v1.GetEnclaveIdentityResponse.build_hash',
  'enclave.v1.GetRegistrationChallengeRequest.user_uid',
  'enclave.v1.GetRegistrationChallengeRequest.exchange',
  'enclave.v1.RegisterConnectionRequest.user_uid',
  'enclave.v1.RegisterConnectionRequest.exchange',
  'enclave.v1.RemoveConnectionRequest.user_uid',
  'enclave.v1.RemoveConnectionRequest.exchange',
  'enclave.v1.Connection.user_uid',
  'enclave.v1.Connection.exchange',
  'enclave.v1.ReviveConnectionRequest.user_uid',
  'enclave.v1.ReviveConnectionRequest.exchange',
  'enclave.v1.SetDisclosureLevelRequest.user_uid',
  'enclave.v1.SetDisclosureLevelRequest.exchange',
  // Issue 14, reviewed: whois maps a pseudonymous metric label back to the account, for operators.
  'enclave.v1.WhoisRequest.label',
  'enclave.v1.WhoisResponse.user_uid',
  'enclave.v1.WhoisResponse.exchange',
  'enclave.v1.GetTrackRecordStatementRequest.user_uid',
  'enclave.v1.GetTrackRecordStatementRequest.exchange',
  // Issue 14, reviewed: the signed statement the enclave builds (pseudonym, venue, ratios, chain
  // head, key, times; docs/statements.md), never an account id or an amount.
  'enclave.v1.GetTrackRecordStatementResponse.statement_json',
  // Issue 17, reviewed: each is a fixed vocabulary the service writes (flag names, currency and
  // benchmark codes, calendar labels, exchange names, fixed note sentences) or a request selector.
  'enclave.v1.HourlyReturn.flags',
  'enclave.v1.PerformanceMetrics.annualization_note',
  'enclave.v1.PerformanceMetrics.currency',
  'enclave.v1.GetPerformanceReportRequest.user_uid',
  'enclave.v1.GetPerformanceReportRequest.exchange',
  'enclave.v1.GetPerformanceReportRequest.currency',
  'enclave.v1.GetPerformanceReportRequest.benchmark',
  'enclave.v1.CalendarReturn.label',
  'enclave.v1.FlagShare.flag',
  'enclave.v1.BenchmarkComparison.name',
  'enclave.v1.GetPerformanceReportResponse.currency',
  'enclave.v1.GetPerformanceReportResponse.base_currency',
  'enclave.v1.GetPerformanceReportResponse.exchanges',
  // One of the report's exchanges (a venue name), naming whose derivatives aggregates follow.
  'enclave.v1.VenueDerivatives.exchange',
  'enclave.v1.GetPerformanceReportResponse.notes',
]);

const INTEGER_TYPES = new Set([
  FieldDescriptorProto_Type.INT32, FieldDescriptorProto_Type.INT64, FieldDescriptorProto_Type.UINT32, FieldDescriptorProto_Type.UINT64,
  FieldDescriptorProto_Type.SINT32, FieldDescriptorProto_Type.SINT64, FieldDescriptorProto_Type.FIXED32, FieldDescriptorProto_Type.FIXED64,
  FieldDescriptorProto_Type.SFIXED32, FieldDescriptorProto_Type.SFIXED64,
]);

export function privacyViolations(files: readonly FileDescriptorProto[], packageName: string): string[] {
  const problems: string[] = [];
  const walk = (prefix: string, message: DescriptorProto): void => {
    const name = `${prefix}.${message.name}`;
    if (FORBIDDEN_TYPE.test(message.name)) problems.push(`${name}: message type named like a private record`);
    for (const e of message.enumType) if (FORBIDDEN_TYPE.test(e.name)) problems.push(`${name}.${e.name}: enum named like a private record`);
    for (const field of message.field) {
      const fieldName = `${name}.${field.name}`;
      const isCount = INTEGER_TYPES.has(field.type) && ALLOWED_COUNTS.has(fieldName);
      const reviewed = REVIEWED_OPAQUE.has(fieldName);
      if (FORBIDDEN_NAME.test(field.name) && !isCount && !reviewed) problems.push(`${fieldName}: field named like a private record`);
      if (FORBIDDEN_TYPE.test(field.typeName.split('.').pop() ?? '')) problems.push(`${fieldName}: of type ${field.typeName}`);
      if (field.type === FieldDescriptorProto_Type.BYTES && !reviewed) problems.push(`${fieldName}: bytes can carry anything`);
      if (field.type === FieldDescriptorProto_Type.STRING && !ALLOWED_TEXT.has(fieldName)) problems.push(`${fieldName}: text field not reviewed`);
      if (field.typeName.startsWith('.google.protobuf.') && /(Any|Struct|Value|ListValue|BytesValue|StringValue)$/u.test(field.typeName)) {
        problems.push(`${fieldName}: open-ended type ${field.typeName}`);
      }
    }
    for (const nested of message.nestedType) walk(name, nested);
  };
  for (const file of files.filter((f) => f.package === packageName)) {
    for (const message of file.messageType) walk(file.package, message);
    for (const e of file.enumType) if (FORBIDDEN_TYPE.test(e.name)) problems.push(`${file.package}.${e.name}: enum named like a private record`);
    for (const service of file.service) {
      for (const method of service.method) {
        if (FORBIDDEN_TYPE.test(method.name)) problems.push(`${service.name}.${method.name}: method named like a private record`);
        if ((method.serverStreaming || method.clientStreaming) && !ALLOWED_STREAMS.has(`${service.name}.${method.name}`)) problems.push(`${service.name}.${method.name}: streaming is not reviewed`);
      }
    }
  }
  return problems;
}

test('no message of enclave.v1 can carry a fill, a trade id, a credential or an order', (t) => {
  const files = compile(join(root, 'proto'), 'enclave.proto');
  t.true(files.some((f) => f.package === 'enclave.v1' && f.messageType.length > 10), 'the descriptors were read');
  t.deepEqual(privacyViolations(files, 'enclave.v1'), []);
});

test('the check catches a trade id, a fill message, a key and an unreviewed text field', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bad-proto-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'bad.proto'),
    `syntax = "proto3";
package bad.v1;
message Fill { string symbol = 1; }
message Reply {
  string exchange_trade_id = 1;
  repeated Fill fills = 2;
  string api_key = 3;
  string note = 4;
  bytes blob = 5;
  int64 order_count = 6;
}
service S { rpc GetFills(Reply) returns (Reply); rpc Tail(Reply) returns (stream Reply); }
`,
  );
  const problems = privacyViolations(compile(dir, 'bad.proto'), 'bad.v1');
  for (const expected of [
    'bad.v1.Fill: message type',
    'bad.v1.Fill.symbol: text field not reviewed',
    'bad.v1.Reply.exchange_trade_id: field named',
    'bad.v1.Reply.fills: field named',
    'bad.v1.Reply.fills: of type .bad.v1.Fill',
    'bad.v1.Reply.api_key: field named',
    'bad.v1.Reply.note: text field not reviewed',
    'bad.v1.Reply.blob: bytes',
    'bad.v1.Reply.order_count: field named',
    'S.GetFills: method named',
    'S.Tail: streaming is not reviewed',
  ]) {
    t.true(problems.some((p) => p.startsWith(expected)), `expected a problem starting with "${expected}" in ${JSON.stringify(problems)}`);
  }
});
