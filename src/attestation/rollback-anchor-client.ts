// Rollback anchors at the key broker, enclave side (docs/sealed-storage.md "Whole-account
// rollback"). The broker keeps one monotonic counter per opaque label for attested sessions only
// (src/broker/server.ts): the enclave fetches them at start and pushes the counters that moved, in
// one request per flush. The channel is the key release's: HTTPS pinned to the broker's certificate,
// a session cookie that passed attestation with a fresh report (re-attested when it expired).
import { z } from 'zod';
import { KeyReleaseError } from './errors.js';
import { attestSession, parseJson, send, type AttestedSession, type KeyReleaseOptions } from './key-release.js';

export interface RollbackAnchorClient {
  /** Every anchored counter (label → counter). */
  fetch(): Promise<Map<string, number>>;
  /** Drops the `reset` labels, then raises each label to at least its counter. */
  push(change: { readonly reset: ReadonlySet<string>; readonly raise: ReadonlyMap<string, number> }): Promise<void>;
}

const MAX_REPLY = 16 * 1024 * 1024;
const anchorsReply = z.object({ anchors: z.record(z.string(), z.number().int().nonnegative()) });

export function createRollbackAnchorClient(options: Omit<KeyReleaseOptions, 'resourcePath'>): RollbackAnchorClient {
  let session: Promise<AttestedSession> | null = null;
  const attested = (): Promise<AttestedSession> => {
    session ??= attestSession(options).catch((error: unknown) => {
      session = null;
      throw error;
    });
    return session;
  };
  /** One call; an expired session (401) is attested again once. */
  const call = async (method: 'GET' | 'POST', body: unknown): Promise<unknown> => {
    for (let attempt = 0; ; attempt++) {
      const { base, cookie } = await attested();
      const reply = await send(new URL('kbs/v0/anchors', base), method, body, cookie, options, MAX_REPLY);
      if (reply.status === 401 && attempt === 0) {
        session = null;
        continue;
      }
      return parseJson(reply, 'the anchor request');
    }
  };
  return {
    async fetch() {
      const parsed = anchorsReply.safeParse(await call('GET', undefined));
      if (!parsed.success) throw new KeyReleaseError('the broker\'s anchors reply is malformed');
      return new Map(Object.entries(parsed.data.anchors));
    },
    async push(change) {
      if (change.reset.size === 0 && change.raise.size === 0) return;
      await call('POST', { reset: [...change.reset], raise: Object.fromEntries(change.raise) });
    },
  };
}
