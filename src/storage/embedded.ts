// The embedded default: PGlite (PostgreSQL compiled to WASM, in this process) served on a
// loopback TCP port through pglite-socket, so the service uses the same pg/slonik code path and
// the same migrations as with a real server.
//
// Connections: pglite-socket accepts `maxConnections` sockets (default 1) but PGlite itself is
// one session. It queues work per protocol *message*, keeping a transaction's messages together,
// yet outside a transaction two clients' extended-protocol sequences (Parse/Bind/Execute/Sync)
// can interleave and overwrite each other's unnamed statement. Measured: three clients sending
// 300 kB parameters concurrently got 2 of 300 results computed by ANOTHER client's statement,
// silently. So the slonik pool must hold ONE
// connection (`EMBEDDED_MAX_POOL_SIZE`); the server allows a second socket only so a short-lived
// client (slonik's type lookup at pool start, the migrator) never races a closing one. Run the
// migrator before opening the pool, never alongside it. PGlite runs on this process's main
// thread: a long query blocks the event loop, one more reason the embedded mode is for demos.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { StorageUnavailableError } from './errors.js';

/** The slonik pool size to use on the embedded database (see the note above). */
export const EMBEDDED_MAX_POOL_SIZE = 1;

export interface EmbeddedDatabase {
  /** postgresql:// URL on 127.0.0.1 and an ephemeral port. */
  readonly url: string;
  /** Pool size the embedded server tolerates: pass to createDatabasePool. */
  readonly maxPoolSize: number;
  stop(): Promise<void>;
}

/** Opens (creating if needed) the PGlite data directory `dir` and serves it on loopback. */
export async function startEmbeddedDatabase(dir: string): Promise<EmbeddedDatabase> {
  const dataDir = resolve(dir);
  let db: PGlite;
  try {
    mkdirSync(dataDir, { recursive: true });
    db = await PGlite.create(dataDir);
  } catch (error) {
    throw new StorageUnavailableError(`cannot open the embedded database in ${dataDir}`, { cause: error });
  }
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: EMBEDDED_MAX_POOL_SIZE + 1 });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw new StorageUnavailableError('cannot serve the embedded database on loopback', { cause: error });
  }
  const address = server.getServerConn(); // "127.0.0.1:<port>"
  let stopped = false;
  return {
    url: `postgresql://postgres@${address}/postgres?sslmode=disable`,
    maxPoolSize: EMBEDDED_MAX_POOL_SIZE,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await db.close();
    },
  };
}
