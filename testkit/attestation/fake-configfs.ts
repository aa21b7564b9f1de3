// A test double for /sys/kernel/config/tsm/report that plays the kernel: for every entry directory
// created under its root it publishes `provider` and `generation`, and when `inblob` is written it
// bumps `generation` and publishes an `outblob` report carrying that inblob as REPORT_DATA.
// Files are published by rename so a reader never sees a half-written attribute.
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSyntheticReport, type SyntheticReportFields } from './synthetic-report.js';

export interface FakeConfigfs {
  readonly root: string;
  /** Every inblob the fake kernel served, in order. */
  readonly inblobs: Buffer[];
  /** privlevel values written before inblob, in order. */
  readonly privlevels: number[];
  /** Entry directories seen (names). */
  readonly entries: Set<string>;
  stop(): Promise<void>;
}

export interface FakeConfigfsOptions {
  readonly provider?: string;
  readonly report?: Omit<SyntheticReportFields, 'reportData'>;
  /** Rewrites the outblob before publishing (to simulate a misbehaving device). */
  readonly tamper?: (outblob: Buffer) => Buffer;
  /** Generation written alongside the outblob (default: the number of attribute writes, as the kernel counts). */
  readonly generationAfterWrite?: number;
}

async function publish(file: string, content: Buffer | string): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`;
  await writeFile(temporary, content);
  await rename(temporary, file);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

export async function startFakeConfigfs(options: FakeConfigfsOptions = {}): Promise<FakeConfigfs> {
  const base = await mkdtemp(path.join(tmpdir(), 'fake-tsm-'));
  const root = path.join(base, 'tsm', 'report');
  await mkdir(root, { recursive: true });
  const inblobs: Buffer[] = [];
  const privlevels: number[] = [];
  const entries = new Set<string>();
  const served = new Set<string>();
  let running = true;

  const tick = async (): Promise<void> => {
    for (const name of await readdir(root)) {
      const entry = path.join(root, name);
      try {
        if (!entries.has(name)) {
          entries.add(name);
          await publish(path.join(entry, 'provider'), `${options.provider ?? 'sev_guest'}\n`);
          await publish(path.join(entry, 'generation'), '0\n');
        }
        if (served.has(name) || !(await exists(path.join(entry, 'inblob')))) continue;
        const inblob = await readFile(path.join(entry, 'inblob'));
        if (inblob.length === 0) continue;
        served.add(name);
        inblobs.push(inblob);
        const reportData = Buffer.alloc(64);
        inblob.copy(reportData);
        let outblob = buildSyntheticReport({ ...options.report, reportData });
        if (options.tamper !== undefined) outblob = options.tamper(outblob);
        const privlevel = (await exists(path.join(entry, 'privlevel'))) ? (await readFile(path.join(entry, 'privlevel'), 'utf8')).trim() : null;
        if (privlevel !== null) privlevels.push(Number(privlevel));
        const writes = privlevel === null ? 1 : 2;
        await publish(path.join(entry, 'generation'), `${options.generationAfterWrite ?? writes}\n`);
        await publish(path.join(entry, 'outblob'), outblob);
      } catch {
        // The entry was removed while we looked at it.
      }
    }
  };

  const loop = (async () => {
    while (running) {
      await tick();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();

  return {
    root,
    inblobs,
    privlevels,
    entries,
    async stop() {
      running = false;
      await loop;
      await rm(base, { recursive: true, force: true });
    },
  };
}
