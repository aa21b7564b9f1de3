// The gRPC server: EnclaveService plus the stock grpc.health.v1.Health and server reflection, so
// grpcurl and Kubernetes probes work unmodified. mTLS with reloading files, or plaintext outside
// enclave mode (with one warning line).
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { HealthImplementation } from 'grpc-health-check';
import type { Config } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import { descriptorSetBase64 } from './generated/descriptor-set.js';
import type { EnclaveApi } from './enclave-api.js';
import { GrpcServerConfigError } from './errors.js';
import { createEnclaveService, enclaveServiceDefinition, type EnclaveServiceOptions } from './service.js';
import { createMutualTlsCredentials, type TlsFiles } from './tls.js';

export const ENCLAVE_SERVICE_NAME = 'enclave.v1.EnclaveService';

export interface GrpcServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly enclave: EnclaveApi;
  readonly logger: Logger;
  /** ENCLAVE_MODE: TLS becomes mandatory and `simulated` is not served. */
  readonly enclaveMode: boolean;
  /** mTLS files; required in enclave mode, optional otherwise. */
  readonly tls?: TlsFiles;
  /** Client CA accepted beside the TLS files' one: the peer CA of the other instances (issue 18). */
  readonly peerCa?: Buffer;
  readonly version?: string;
  /** Largest request accepted, bytes (default 64 KiB: requests are a few ids and numbers). */
  readonly maxRequestBytes?: number;
  /** Largest reply sent, bytes (default 16 MiB; the range limit keeps replies far below it). */
  readonly maxReplyBytes?: number;
  /** Validation and timeout settings passed to the service. */
  readonly service?: Partial<Pick<EnclaveServiceOptions, 'exchanges' | 'maxRangeMs' | 'maxSyncMs' | 'maxQueryMs' | 'progressIntervalMs' | 'peers'>>;
}

export interface RunningGrpcServer {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  readonly server: Server;
  /** Sets the standard health status of the whole server and of EnclaveService. */
  setServing(serving: boolean): void;
  /**
   * Marks NOT_SERVING, stops accepting calls, lets running calls finish for up to `graceMs`,
   * then cancels the rest.
   */
  close(graceMs?: number): Promise<void>;
}

/** The mTLS files from the configuration: all three, or none (then plaintext, outside enclave mode). */
export function tlsFilesFromConfig(config: Pick<Config, 'TLS_CA_FILE' | 'TLS_CERT_FILE' | 'TLS_KEY_FILE'>): TlsFiles | undefined {
  const { TLS_CA_FILE: caFile, TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile } = config;
  if (caFile === undefined && certFile === undefined && keyFile === undefined) return undefined;
  if (caFile === undefined || certFile === undefined || keyFile === undefined) {
    throw new GrpcServerConfigError('TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  }
  return { caFile, certFile, keyFile };
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const { logger } = options;
  if (options.enclaveMode && options.tls === undefined) throw new GrpcServerConfigError('enclave mode requires mTLS files (TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE)');

  const server = new Server({
    'grpc.max_receive_message_length': options.maxRequestBytes ?? 64 * 1024,
    'grpc.max_send_message_length': options.maxReplyBytes ?? 16 * 1024 * 1024,
    // Channelz bookkeeping costs CPU on every call and nothing here serves it.
    'grpc.enable_channelz': 0,
  });
  server.addService(
    enclaveServiceDefinition,
    createEnclaveService({
      ...options.service,
      port: options.enclave,
      logger,
      enclaveMode: options.enclaveMode,
      version: options.version ?? '0.0.0',
    }),
  );
  const health = new HealthImplementation({ '': 'SERVING', [ENCLAVE_SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  new ReflectionService(reflectionPackage(), { services: [ENCLAVE_SERVICE_NAME, 'grpc.health.v1.Health'] }).addToServer(server);

  let credentials: ServerCredentials;
  let closeTls = (): void => undefined;
  if (options.tls === undefined) {
    logger.warn({ host: options.host }, 'gRPC is serving plaintext without client authentication (allowed only outside ENCLAVE_MODE)');
    credentials = ServerCredentials.createInsecure();
  } else {
    const tls = createMutualTlsCredentials(options.tls, logger, options.peerCa ?? null);
    credentials = tls.credentials;
    closeTls = () => tls.provider.close();
  }

  const address = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  let boundPort: number;
  try {
    boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, credentials, (error, port) => (error === null ? resolve(port) : reject(error)));
    });
  } catch (error) {
    closeTls();
    server.forceShutdown();
    throw error;
  }
  logger.info({ host: options.host, port: boundPort, mtls: options.tls !== undefined }, 'gRPC server listening');

  const setServing = (serving: boolean): void => {
    const value = serving ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', value);
    health.setStatus(ENCLAVE_SERVICE_NAME, value);
  };

  let closing: Promise<void> | undefined;
  const close = (graceMs = 5_000): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      setServing(false);
      const force = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        closeTls();
        resolve();
      });
    });
    return closing;
  };

  return { port: boundPort, server, setServing, close };
}

type ReflectionPackage = ConstructorParameters<typeof ReflectionService>[0];

/**
 * @grpc/reflection reads only `fileDescriptorProtos` (serialized FileDescriptorProtos) from the
 * package definition it is given; this builds that from the descriptor set embedded at
 * generation time, so reflection needs neither protoc nor .proto files at run time.
 */
function reflectionPackage(): ReflectionPackage {
  const reader = new BinaryReader(Buffer.from(descriptorSetBase64, 'base64'));
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) files.push(Buffer.from(reader.bytes()));
    else reader.skip(wireType);
  }
  const entry = { format: 'Protocol Buffer 3 FileDescriptorProto', type: {}, fileDescriptorProtos: files };
  return { [ENCLAVE_SERVICE_NAME]: entry } as unknown as ReflectionPackage;
}
