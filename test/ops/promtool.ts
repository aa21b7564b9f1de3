// promtool (Debian's `prometheus` package) run as a child process. Absent outside CI it is an
// error that says how to install it, never a silent pass: .ci/run installs it.
import { execFile, spawnSync } from 'node:child_process';

export interface PromtoolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function promtoolAvailable(): boolean {
  return spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
}

export const PROMTOOL_MISSING = 'promtool is not installed: `apt-get install -y --no-install-recommends prometheus` (bash .ci/run does it)';

/** Runs `promtool ...args`, writing `stdin` to it when given; resolves with its exit code and output. */
export function promtool(args: readonly string[], options: { readonly stdin?: string; readonly cwd?: string } = {}): Promise<PromtoolResult> {
  if (!promtoolAvailable()) return Promise.reject(new Error(PROMTOOL_MISSING));
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', [...args], { cwd: options.cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
    child.stdin?.end(options.stdin ?? '');
  });
}
