import test from 'ava';
import { CredentialFormatError } from '../../src/crypto/errors.js';
import { decodeCredential, encodeCredential } from '../../src/crypto/credential.js';

test('a credential decodes from a Uint8Array view into a larger buffer, reading only the view', (t) => {
  const encoded = encodeCredential({ apiKey: 'CANARYKEYcred01', secret: 's', passphrase: 'p' });
  const backing = new Uint8Array(encoded.length + 8).fill(0x7b);
  backing.set(encoded, 4);
  const view = new Uint8Array(backing.buffer, 4, encoded.length);
  t.deepEqual(decodeCredential(view), { apiKey: 'CANARYKEYcred01', secret: 's', passphrase: 'p' });
});

test('a credential with an unknown field, an empty key or a non-string passphrase is refused without echoing it', (t) => {
  for (const body of ['{"apiKey":"CANARYKEYcred02","secret":"s","extra":"x"}', '{"apiKey":"","secret":"CANARYSECRETcred02"}', '{"apiKey":"CANARYKEYcred02","secret":"s","passphrase":null}', '[]']) {
    const error = t.throws(() => decodeCredential(new TextEncoder().encode(body)), { instanceOf: CredentialFormatError });
    t.false(error.message.includes('CANARY'));
  }
});
