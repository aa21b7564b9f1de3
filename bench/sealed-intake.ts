// Sealed intake and report parsing costs: seal (client side), open (enclave side, HPKE X25519 +
// AES-256-GCM + JSON shape check), and parse + verify of one SEV-SNP report.
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { attestationReportData } from '../src/attestation/binding.js';
import { createEnclaveIdentity } from '../src/attestation/identity.js';
import { openSealedCredential, sealCredential } from '../src/crypto/sealed-intake.js';
import { parseSnpReport } from '../src/attestation/snp-report.js';
import { verifyAttestationReport } from '../src/attestation/verify.js';
import { X509Certificate } from 'node:crypto';
import { createSelfSignedCertificate } from '../src/crypto/self-signed-certificate.js';

const N = 2_000;
const identity = await createEnclaveIdentity({ buildHash: 'bench' });
const account = { userUid: 'bench-user', exchange: 'binance' } as const;
const credential = { apiKey: 'k'.repeat(64), secret: 's'.repeat(64) };

const sealed: Buffer[] = [];
let start = performance.now();
for (let i = 0; i < N; i += 1) sealed.push(await sealCredential(identity.publicKey, account, credential));
const sealUs = ((performance.now() - start) * 1000) / N;

start = performance.now();
for (const item of sealed) (await openSealedCredential(identity, account, item)).fill(0);
const openUs = ((performance.now() - start) * 1000) / N;

const nonce = randomBytes(32);
const benchCertificate = new X509Certificate(createSelfSignedCertificate({ names: ['localhost'] }).cert);
const report = Buffer.alloc(1184);
report.writeUInt32LE(3, 0);
report.writeBigUInt64LE(0x30000n, 8);
attestationReportData({ nonce, enclavePublicKey: identity.publicKey, tlsCertificateFingerprint: null, buildHash: null }).copy(report, 0x50);
start = performance.now();
for (let i = 0; i < N; i += 1) parseSnpReport(report);
const parseUs = ((performance.now() - start) * 1000) / N;
start = performance.now();
for (let i = 0; i < N; i += 1) {
  // No certificates here: this times parsing and the policy checks; the chain check fails fast.
  verifyAttestationReport(report, {
    expected: { binding: { nonce, enclavePublicKey: identity.publicKey, tlsCertificateFingerprint: null, buildHash: null } },
    policy: { measurements: [Buffer.alloc(48)] },
    endorsements: { ark: benchCertificate, ask: benchCertificate, vcek: benchCertificate },
  });
}
const verifyUs = ((performance.now() - start) * 1000) / N;

console.log(`seal   ${sealUs.toFixed(1)} µs/op (${N} sequential)`);
console.log(`open   ${openUs.toFixed(1)} µs/op (${N} sequential)`);
console.log(`parse  ${parseUs.toFixed(1)} µs/op`);
console.log(`verify ${verifyUs.toFixed(1)} µs/op (chain refused: no AMD certificates here)`);
console.log(JSON.stringify({ bench: 'sealed-intake', n: N, sealUs, openUs, parseUs, verifyUs }));
