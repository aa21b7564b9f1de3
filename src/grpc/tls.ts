// mTLS material that follows its files: a grpc-js CertificateProvider that re-reads the CA,
// certificate and key files on an interval and hands grpc-js a new secure context when they
// change. A set that does not load (half-written rotation, key not matching the certificate,
// unparsable CA) is refused and the last good set stays in service: a bad rotation degrades to
// "not rotated yet", never to "no TLS at all".
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { experimental, type ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from '../config/logger.js';
import { TlsMaterialError } from './errors.js';

export interface TlsFilePaths {
  /** CA bundle that client certificates must chain to. */
  readonly caFile: string;
  /** The server's certificate chain and private key (PEM). */
  readonly certFile: string;
  readonly keyFile: string;
  /** How often the files are re-read, ms (default 60 s). */
  readonly refreshIntervalMs?: number;
}

/**
 * Enclave mode: the key pair was generated in memory at start and the gateway CA read once (it is
 * measured); nothing is read from disk again, so nothing on disk can replace them.
 */
export interface TlsInMemory {
  readonly inMemory: { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer };
}

export type TlsFiles = TlsFilePaths | TlsInMemory;

interface Material {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Throws TlsMaterialError naming which part is wrong (never the file contents). */
function checkMaterial(m: Material): void {
  try {
    new X509Certificate(m.ca);
  } catch {
    throw new TlsMaterialError('the CA file holds no parsable certificate');
  }
  try {
    new X509Certificate(m.cert);
  } catch {
    throw new TlsMaterialError('the certificate file holds no parsable certificate');
  }
  try {
    createSecureContext({ ca: m.ca, cert: m.cert, key: m.key });
  } catch {
    throw new TlsMaterialError('the key does not load or does not match the certificate');
  }
}

type CaListener = (update: experimental.CaCertificateUpdate | null) => void;
type IdentityListener = (update: experimental.IdentityCertificateUpdate | null) => void;

export class ReloadingCertificateProvider implements experimental.CertificateProvider {
  private material: Material;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  private lastProblem: string | undefined;
  private readonly intervalMs: number;

  /** Reads the files now: a server never starts on bad material. */
  constructor(
    private readonly files: TlsFiles,
    private readonly logger: Logger,
    /** More client CAs accepted beside the file's (the peer CA of the other instances, issue 18). */
    private readonly extraCa: Buffer | null = null,
  ) {
    this.intervalMs = 'inMemory' in files ? 0 : (files.refreshIntervalMs ?? 60_000);
    if ('inMemory' in files) {
      checkMaterial(files.inMemory);
      this.material = files.inMemory;
      return;
    }
    let material: Material;
    try {
      material = { ca: readFileSync(files.caFile), cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
    } catch (error) {
      throw new TlsMaterialError(`cannot read the TLS files (${error instanceof Error && 'code' in error ? String(error.code) : 'error'})`);
    }
    checkMaterial(material);
    this.material = material;
  }

  /** Re-reads the files; true when new material went into service. */
  async reload(): Promise<boolean> {
    const files = this.files;
    if (this.reading || 'inMemory' in files) return false;
    this.reading = true;
    try {
      const [ca, cert, key] = await Promise.all([readFile(files.caFile), readFile(files.certFile), readFile(files.keyFile)]);
      const current = this.material;
      if (ca.equals(current.ca) && cert.equals(current.cert) && key.equals(current.key)) return false;
      const next = { ca, cert, key };
      checkMaterial(next);
      this.material = next;
      this.lastProblem = undefined;
      this.publish();
      this.logger.info('TLS certificate files changed; new connections use them');
      return true;
    } catch (error) {
      const problem = error instanceof TlsMaterialError ? error.message : 'the TLS files could not be read';
      // One line per distinct problem, not one per poll.
      if (problem !== this.lastProblem) this.logger.warn({ problem }, 'TLS files not reloaded; keeping the certificates in service');
      this.lastProblem = problem;
      return false;
    } finally {
      this.reading = false;
    }
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    this.started();
    // After the caller's own bookkeeping: grpc-js registers its watcher after this returns.
    queueMicrotask(() => {
      if (this.caListeners.has(listener)) listener({ caCertificate: this.caBundle() });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.maybeStop();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    this.started();
    queueMicrotask(() => {
      if (this.identityListeners.has(listener)) listener({ certificate: this.material.cert, privateKey: this.material.key });
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.maybeStop();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private publish(): void {
    const { cert, key } = this.material;
    for (const listener of this.identityListeners) listener({ certificate: cert, privateKey: key });
    for (const listener of this.caListeners) listener({ caCertificate: this.caBundle() });
  }

  private caBundle(): Buffer {
    return this.extraCa === null ? this.material.ca : Buffer.concat([this.material.ca, Buffer.from('\n'), this.extraCa]);
  }

  private started(): void {
    if (this.timer !== undefined || 'inMemory' in this.files) return;
    this.timer = setInterval(() => void this.reload(), this.intervalMs);
    this.timer.unref();
  }

  private maybeStop(): void {
    if (this.caListeners.size === 0 && this.identityListeners.size === 0) this.close();
  }
}

/** Server credentials requiring a client certificate from the CA in `files.caFile`. */
export function createMutualTlsCredentials(files: TlsFiles, logger: Logger, extraCa: Buffer | null = null): { readonly credentials: ServerCredentials; readonly provider: ReloadingCertificateProvider } {
  const provider = new ReloadingCertificateProvider(files, logger, extraCa);
  // grpc-js 1.14 names this function's parameters (ca, identity) but uses them as (identity, ca).
  const credentials = experimental.createCertificateProviderServerCredentials(provider, provider, true);
  return { credentials, provider };
}
