import test from 'ava';
import { WritableCredentialError } from '../../src/domain/errors.js';
import { assertReadOnlyPermissions, checkReadOnlyPermissions } from '../../src/domain/permissions.js';

const alpacaKey = { reported: true, rights: ['read', 'spot_trade', 'margin_trade'], alwaysTrades: true } as const;

test('a venue that issues only trading keys is refused without the opt-in, and the reason names the opt-in', (t) => {
  const verdict = checkReadOnlyPermissions(alpacaKey);
  t.false(verdict.ok);
  if (verdict.ok) return;
  t.deepEqual(verdict.refused, ['spot_trade', 'margin_trade']);
  t.regex(verdict.reason, /issues no read-only keys/u);
  t.regex(verdict.reason, /opt-in/u);
  t.throws(() => assertReadOnlyPermissions(alpacaKey), { instanceOf: WritableCredentialError });
});

test('the opt-in accepts such a key and says which trading rights were accepted', (t) => {
  t.deepEqual(checkReadOnlyPermissions(alpacaKey, { acceptTradingRights: true }), {
    ok: true, checked: true, acceptedTradingRights: ['spot_trade', 'margin_trade'],
  });
  t.notThrows(() => assertReadOnlyPermissions(alpacaKey, { acceptTradingRights: true }));
});

test('the opt-in never accepts trading rights on a venue that can issue a read-only key', (t) => {
  const verdict = checkReadOnlyPermissions({ reported: true, rights: ['read', 'spot_trade'] }, { acceptTradingRights: true });
  t.false(verdict.ok);
  if (!verdict.ok) t.regex(verdict.reason, /create a read-only key/u);
});

test('the opt-in never accepts withdrawal or transfer rights', (t) => {
  const verdict = checkReadOnlyPermissions({ ...alpacaKey, rights: ['read', 'spot_trade', 'withdraw'] }, { acceptTradingRights: true });
  t.false(verdict.ok);
  if (verdict.ok) return;
  t.deepEqual(verdict.refused, ['withdraw']);
  t.regex(verdict.reason, /create a read-only key/u);
});

test('an unrecognized right fails closed, with or without the opt-in', (t) => {
  for (const options of [{}, { acceptTradingRights: true }]) {
    const verdict = checkReadOnlyPermissions({ reported: true, rights: ['read', 'unrecognized'], alwaysTrades: true }, options);
    t.false(verdict.ok);
    if (!verdict.ok) {
      t.deepEqual(verdict.refused, ['unrecognized']);
      t.regex(verdict.reason, /does not recognize/u);
    }
  }
});

test('a read-only key needs no opt-in and reports no accepted trading rights', (t) => {
  t.deepEqual(checkReadOnlyPermissions({ reported: true, rights: ['read'], alwaysTrades: true }, { acceptTradingRights: true }), { ok: true, checked: true });
});
