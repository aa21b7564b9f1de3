// Forwarding a command to the instance that owns the account's shard (issue 18): one hop, over
// mTLS between instances (peer certificates: src/crypto/peer-tls.ts), with a grpc-js client of the
// same EnclaveService. The forwarded request is the gateway's own wire request, unchanged; the
// owner's wire reply (or its status) goes back unchanged, so nothing is mapped twice. A forwarded
// call carries FORWARDED_KEY and its receiver never forwards it again: a shard that moved meanwhile
// answers UNAVAILABLE with the retry hint, as a shard without an owner does.
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { ChannelCredentials, Metadata, status, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../config/logger.js';
import {
  EnclaveServiceClient,
  type GetRegistrationChallengeRequest,
  type GetRegistrationChallengeResponse,
  type ProcessSyncJobRequest,
  type ProcessSyncJobResponse,
  type RegisterConnectionRequest,
  type RegisterConnectionResponse,
  type RemoveConnectionRequest,
  type RemoveConnectionResponse,
  type SyncJobProgress,
} from './generated/enclave.js';
import type { PeerTls } from '../crypto/peer-tls.js';
import { PeerStatusError, RETRY_AFTER_MS_KEY } from './errors.js';
import type { TlsFiles } from './tls.js';

/** Request metadata marking a call one instance forwarded to another (never forwarded again). */
export const FORWARDED_KEY = 'x-enclave-forwarded';

export type ForwardedMethod = 'ProcessSyncJob' | 'WatchSyncJob' | 'RemoveConnection' | 'RegisterConnection' | 'GetRegistrationChallenge';

/** The owner could not be reached or could not be trusted: the caller answers with its own retry hint. */
export class PeerUnreachableError extends Error {
  override readonly name: string = 'PeerUnreachableError';
}

export interface PeerForwarder {
  processSyncJob(addr: string, request: ProcessSyncJobRequest, signal: AbortSignal): Promise<ProcessSyncJobResponse>;
  /** Relays every progress message but the last, which it returns (the handler sends it as its own last). */
  watchSyncJob(addr: string, request: ProcessSyncJobRequest, signal: AbortSignal, send: (message: SyncJobProgress) => void): Promise<SyncJobProgress>;
  removeConnection(addr: string, request: RemoveConnectionRequest, signal: AbortSignal): Promise<RemoveConnectionResponse>;
  registerConnection(addr: string, request: RegisterConnectionRequest, signal: AbortSignal): Promise<RegisterConnectionResponse>;
  getRegistrationChallenge(addr: string, request: GetRegistrationChallengeRequest, signal: AbortSignal): Promise<GetRegistrationChallengeResponse>;
  close(): void;
}

export interface PeerForwarderOptions {
  /**
   * Credentials for a channel to one peer (peerChannel). Rejects with PeerUnreachableError when the
   * peer cannot be reached or is not a peer; then nothing is sent to it.
   */
  readonly credentialsFor: (addr: string) => Promise<ChannelCredentials>;
  readonly registry?: Registry;
  readonly logger?: Logger;
  /** Channels kept open at most (one per owner address; the oldest is closed first). */
  readonly maxChannels?: number;
}

type UnaryMethod<Req, Res> = (request: Req, metadata: Metadata, options: object, callback: (error: ServiceError | null, response: Res) => void) => ClientUnaryCall;

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && 'code' in error && typeof error.code === 'number' && 'metadata' in error;
}

export function createPeerForwarder(options: PeerForwarderOptions): PeerForwarder {
  const maxChannels = options.maxChannels ?? 64;
  const clients = new Map<string, EnclaveServiceClient>();
  const forwarded = options.registry === undefined ? undefined : new Counter({
    name: 'enclave_forwarded_requests_total',
    help: 'Commands forwarded to the instance owning the account\'s shard, by method and outcome (ok, refused by the owner, unreachable, untrusted server)',
    labelNames: ['method', 'outcome'] as const,
    registers: [options.registry],
  });

  const clientFor = async (addr: string): Promise<EnclaveServiceClient> => {
    let client = clients.get(addr);
    if (client === undefined) {
      const channelCredentials = await options.credentialsFor(addr);
      // Another call may have opened it meanwhile.
      client = clients.get(addr);
      if (client !== undefined) return client;
      if (clients.size >= maxChannels) {
        const [oldest, channel] = clients.entries().next().value as [string, EnclaveServiceClient];
        channel.close();
        clients.delete(oldest);
      }
      // Peers are named by INSTANCE_ADDR, not by the names in their certificates (see peerChannel).
      client = new EnclaveServiceClient(addr, channelCredentials, { 'grpc.ssl_target_name_override': 'localhost', 'grpc.enable_channelz': 0 });
      clients.set(addr, client);
    }
    return client;
  };

  /** Forgets a peer's channel: the next call probes it again (it may have restarted with a new certificate). */
  const forget = (addr: string): void => {
    clients.get(addr)?.close();
    clients.delete(addr);
  };

  const open = async (method: ForwardedMethod, addr: string): Promise<EnclaveServiceClient> => {
    try {
      return await clientFor(addr);
    } catch (error) {
      const outcome = error instanceof PeerUntrustedError ? 'untrusted' : 'unreachable';
      forwarded?.inc({ method, outcome });
      if (outcome === 'untrusted') options.logger?.error({ method }, 'the shard owner\'s address answered without a peer certificate: nothing forwarded');
      throw error instanceof PeerUnreachableError ? error : new PeerUnreachableError('the shard owner could not be reached');
    }
  };

  const marker = (): Metadata => {
    const metadata = new Metadata();
    metadata.set(FORWARDED_KEY, '1');
    return metadata;
  };

  /** Maps the owner's answer: its status goes back as it is, a transport failure becomes PeerUnreachableError. */
  const settle = (method: ForwardedMethod, addr: string, error: unknown): never => {
    // A status the owner's handler produced carries trailers or a code only a handler sends; a
    // connection that never came up is UNAVAILABLE without our retry trailer.
    if (isServiceError(error) && !(error.code === status.UNAVAILABLE && error.metadata.get(RETRY_AFTER_MS_KEY).length === 0)) {
      forwarded?.inc({ method, outcome: 'refused' });
      throw new PeerStatusError(error.code, error.details, error.metadata);
    }
    forwarded?.inc({ method, outcome: 'unreachable' });
    forget(addr);
    options.logger?.warn({ method, code: isServiceError(error) ? status[error.code] : 'none' }, 'the shard owner could not be reached');
    throw new PeerUnreachableError('the shard owner could not be reached');
  };

  async function unary<Req, Res>(method: ForwardedMethod, pick: (client: EnclaveServiceClient) => UnaryMethod<Req, Res>, addr: string, request: Req, signal: AbortSignal): Promise<Res> {
    const client = await open(method, addr);
    return new Promise<Res>((resolve, reject) => {
      const onAbort = (): void => call.cancel();
      const call: ClientUnaryCall = pick(client).call(client, request, marker(), {}, (error, response) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) {
          reject(signal.reason as Error);
          return;
        }
        if (error !== null) {
          try {
            settle(method, addr, error);
          } catch (mapped) {
            reject(mapped as Error);
          }
          return;
        }
        forwarded?.inc({ method, outcome: 'ok' });
        resolve(response);
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  return {
    processSyncJob: (addr, request, signal) => unary('ProcessSyncJob', (c) => c.processSyncJob as UnaryMethod<ProcessSyncJobRequest, ProcessSyncJobResponse>, addr, request, signal),
    removeConnection: (addr, request, signal) => unary('RemoveConnection', (c) => c.removeConnection as UnaryMethod<RemoveConnectionRequest, RemoveConnectionResponse>, addr, request, signal),
    registerConnection: (addr, request, signal) => unary('RegisterConnection', (c) => c.registerConnection as UnaryMethod<RegisterConnectionRequest, RegisterConnectionResponse>, addr, request, signal),
    getRegistrationChallenge: (addr, request, signal) =>
      unary('GetRegistrationChallenge', (c) => c.getRegistrationChallenge as UnaryMethod<GetRegistrationChallengeRequest, GetRegistrationChallengeResponse>, addr, request, signal),
    async watchSyncJob(addr, request, signal, send) {
      const method: ForwardedMethod = 'WatchSyncJob';
      const client = await open(method, addr);
      return new Promise<SyncJobProgress>((resolve, reject) => {
        const stream = client.watchSyncJob(request, marker(), {});
        const onAbort = (): void => stream.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
        let last: SyncJobProgress | null = null;
        stream.on('data', (message: SyncJobProgress) => {
          if (last !== null) send(last);
          last = message;
        });
        stream.on('error', (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) {
            reject(signal.reason as Error);
            return;
          }
          try {
            settle(method, addr, error);
          } catch (mapped) {
            reject(mapped as Error);
          }
        });
        stream.on('end', () => {
          signal.removeEventListener('abort', onAbort);
          if (last === null) {
            forwarded?.inc({ method, outcome: 'unreachable' });
            reject(new PeerUnreachableError('the shard owner ended the stream without an answer'));
            return;
          }
          forwarded?.inc({ method, outcome: 'ok' });
          resolve(last);
        });
      });
    },
    close() {
      for (const client of clients.values()) client.close();
      clients.clear();
    },
  };
}

/** The address answered, but not with a certificate bearing the peer tag. */
export class PeerUntrustedError extends PeerUnreachableError {
  override readonly name = 'PeerUntrustedError';
}

/**
 * Fetches the server certificate at `addr` over a TLS handshake that presents this instance's peer
 * client certificate (the server requires one), without sending anything else.
 */
function serverCertificate(addr: string, client: { readonly cert: Buffer; readonly key: Buffer }, timeoutMs = 5_000): Promise<Buffer> {
  const at = addr.lastIndexOf(':');
  const host = addr.slice(0, at).replace(/^\[|\]$/gu, '');
  const port = Number(addr.slice(at + 1));
  return new Promise<Buffer>((resolve, reject) => {
    // The chain cannot verify (a self-signed certificate): the caller checks the peer tag instead.
    const socket = connect({ host, port, cert: client.cert, key: client.key, rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: 'localhost', timeout: timeoutMs });
    const fail = (): void => {
      socket.destroy();
      reject(new PeerUnreachableError('the shard owner could not be reached'));
    };
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(raw);
    });
    socket.once('error', fail);
    socket.once('timeout', fail);
  });
}

const pem = (der: Buffer): Buffer => Buffer.from(`-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/gu, '$1\n').trimEnd()}\n-----END CERTIFICATE-----\n`, 'ascii');

/**
 * How this instance calls its peers, given its own server TLS (the peers are configured alike), as
 * `credentialsFor`. It always presents its peer client certificate, which the peers' servers accept.
 * - plaintext when it serves plaintext (development only);
 * - TLS files: the chain to the files' CA (host names are not checked: peers are named by address);
 * - the in-memory certificate (enclave mode) is self-signed: a first handshake fetches it, it must
 *   bear the peer tag, and the channel then pins exactly that certificate.
 */
export function peerChannel(tls: TlsFiles | undefined, peer: Pick<PeerTls, 'client' | 'endorses'>): Pick<PeerForwarderOptions, 'credentialsFor'> {
  if (tls === undefined) {
    const insecure = ChannelCredentials.createInsecure();
    return { credentialsFor: () => Promise.resolve(insecure) };
  }
  const { key, cert } = peer.client;
  if ('inMemory' in tls) {
    return {
      async credentialsFor(addr) {
        const der = await serverCertificate(addr, peer.client);
        if (!peer.endorses(der)) throw new PeerUntrustedError('the shard owner is not a peer');
        return ChannelCredentials.createSsl(pem(der), key, cert, { checkServerIdentity: () => undefined });
      },
    };
  }
  const verified = ChannelCredentials.createSsl(readFileSync(tls.caFile), key, cert, { checkServerIdentity: () => undefined });
  return { credentialsFor: () => Promise.resolve(verified) };
}
