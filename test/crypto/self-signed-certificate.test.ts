// The in-memory TLS certificate's serial is a DER INTEGER: positive and without a leading zero
// byte, or X509Certificate refuses the whole certificate ("illegal padding").
import { X509Certificate } from 'node:crypto';
import test from 'ava';
import { certificateSerial, createSelfSignedCertificate } from '../../src/crypto/self-signed-certificate.js';

test('serials are positive and minimal whatever the random bytes, the 0x00 lead included', (t) => {
  for (const lead of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
    for (const next of [0x00, 0x7f, 0x80, 0xff]) {
      const serial = certificateSerial(Buffer.from([lead, next, ...new Array<number>(14).fill(next)]));
      t.is(serial.length, 16);
      t.true(serial[0]! >= 0x01 && serial[0]! <= 0x7f, `lead ${lead.toString(16)} → ${serial[0]!.toString(16)}`);
      t.deepEqual(serial.subarray(1), Buffer.from([next, ...new Array<number>(14).fill(next)]), 'only the first byte changes');
    }
  }
});

test('a generated certificate parses and names its serial', (t) => {
  const tls = createSelfSignedCertificate({ names: ['127.0.0.1', 'localhost'] });
  const cert = new X509Certificate(tls.cert);
  t.regex(cert.serialNumber, /^[4-7][0-9A-F]{31}$/u);
  t.true(cert.checkHost('localhost') === 'localhost');
});
