// Per-call plumbing, the same for every method: one deadline (the client's, capped at the
// method's maximum) carried as one AbortSignal into the handler's ask (nice-grpc's
// CallContext.signal); the answer or the mapped status; one log line of method, status and
// duration. Handlers never see grpc-js call objects.
import {
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { AskTimeoutError } from '../actors/errors.js';
import type { Logger } from '../config/logger.js';
import type { CallContext } from './enclave-api.js';
import { CallCancelledError, toGrpcStatus, type GrpcStatus } from './errors.js';
import { UNDECODABLE } from './validate.js';
import { FORWARDED_KEY } from './peer-forwarding.js';

/** What every call needs from its server: a clock and a logger. */
export interface CallEnvironment {
  readonly now: () => number;
  readonly logger: Logger;
}

/** What opening a call needs of grpc-js (every server call type has it). */
type ServerCall = Pick<ServerUnaryCall<unknown, unknown>, 'getDeadline' | 'once' | 'removeListener' | 'metadata'>;

interface OpenCall {
  readonly context: CallContext;
  /** Rejects with the signal's reason once it aborts (never resolves). */
  readonly aborted: Promise<never>;
  close(): void;
}

/**
 * The signal aborts with CallCancelledError when the client cancels and with AskTimeoutError at
 * the deadline, so the call is answered then even if the handler never settles.
 */
function openCall(call: ServerCall, method: string, maxMs: number, now: () => number): OpenCall {
  const start = now();
  const callDeadline = call.getDeadline();
  const clientDeadline = callDeadline instanceof Date ? callDeadline.getTime() : callDeadline;
  const deadline = Math.min(clientDeadline, start + maxMs);
  const controller = new AbortController();
  const onCancelled = (): void => controller.abort(new CallCancelledError());
  call.once('cancelled', onCancelled);
  const timer = setTimeout(() => controller.abort(new AskTimeoutError(`${method}: deadline passed`)), Math.max(0, deadline - start));
  const aborted = new Promise<never>((_resolve, reject) => {
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true });
  });
  // The race below may settle on the answer first: nobody else waits on this promise.
  aborted.catch(() => undefined);
  return {
    context: { signal: controller.signal, forwarded: call.metadata.get(FORWARDED_KEY).length > 0 },
    aborted,
    close() {
      clearTimeout(timer);
      call.removeListener('cancelled', onCancelled);
    },
  };
}

/** Maps the error and writes the call's one log line. */
function finish(env: CallEnvironment, method: string, startedAt: number, error: unknown): GrpcStatus {
  const mapped = error === undefined ? { code: status.OK, details: '' } : toGrpcStatus(error);
  const durationMs = Math.max(0, env.now() - startedAt);
  if (mapped.code === status.UNKNOWN) {
    // The class name only: an unknown error's message may quote anything.
    env.logger.error({ method, status: status[mapped.code], durationMs, errorClass: error instanceof Error ? error.name : typeof error }, 'unexpected error in gRPC handler');
  } else {
    env.logger.debug({ method, status: status[mapped.code], durationMs }, 'gRPC call');
  }
  return mapped;
}

/** A unary method: `handle` validates, asks with the call's context and maps the reply. */
export function unaryCall<Req, Res>(
  env: CallEnvironment,
  method: string,
  maxMs: number,
  handle: (request: Req, call: CallContext) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const startedAt = env.now();
    const open = openCall(call, method, maxMs, env.now);
    const run = async (): Promise<Res> => handle(call.request, open.context);
    Promise.race([run(), open.aborted])
      .then(
        (reply) => {
          finish(env, method, startedAt, undefined);
          callback(null, reply);
        },
        (error: unknown) => callback(finish(env, method, startedAt, error)),
      )
      .finally(() => open.close())
      .catch(() => undefined);
  };
}

/**
 * A server-streaming method: `handle` may `send` messages while it runs and resolves to the last
 * one. After the call ends (answered, failed, cancelled, deadline) `send` does nothing.
 */
export function serverStreamCall<Req, Msg>(
  env: CallEnvironment,
  method: string,
  maxMs: number,
  handle: (request: Req, call: CallContext, send: (message: Msg) => void) => Promise<Msg>,
): handleServerStreamingCall<Req, Msg> {
  return (call: ServerWritableStream<Req, Msg>) => {
    const startedAt = env.now();
    const open = openCall(call, method, maxMs, env.now);
    let ended = false;
    const send = (message: Msg): void => {
      if (!ended) call.write(message);
    };
    const run = async (): Promise<Msg> => handle(call.request, open.context, send);
    Promise.race([run(), open.aborted])
      .then(
        (last) => {
          send(last);
          ended = true;
          finish(env, method, startedAt, undefined);
          call.end();
        },
        (error: unknown) => {
          ended = true;
          call.emit('error', finish(env, method, startedAt, error));
        },
      )
      .finally(() => open.close())
      .catch(() => undefined);
  };
}

/** A decoder that marks bad bytes instead of throwing (grpc-js would answer INTERNAL). */
function tolerant<T>(decode: (bytes: Buffer) => T): (bytes: Buffer) => T {
  return (bytes) => {
    try {
      return decode(bytes);
    } catch {
      // Empty bytes decode to the default message: the handler's validation then refuses it.
      return Object.assign(decode(Buffer.alloc(0)) as object, { [UNDECODABLE]: true }) as T;
    }
  };
}

/**
 * The definition to register: the generated one, with request decoding that lets undecodable
 * requests through to validation so they get INVALID_ARGUMENT with a reason.
 */
export function withTolerantDecoding<D extends ServiceDefinition>(definition: D): D {
  const methods = Object.entries(definition).map(([name, m]) => [name, { ...m, requestDeserialize: tolerant(m.requestDeserialize) }]);
  return Object.fromEntries(methods) as D;
}
