// In enclave mode nothing outside the measured image may decide what code runs. Node and the
// libraries under it read these variables and flags before or while our code starts: a preloaded
// module (NODE_OPTIONS=--import=./x.mjs), another module search path, extra trusted CAs, a
// different OpenSSL configuration, a shared-library preload. They are refused, not ignored.
//
// Limit (see README "Trust chain"): a module preloaded through NODE_OPTIONS has already run when
// this check runs. The check makes such a start fail loudly; what prevents it is the measured
// image starting the service with a fixed environment, and the broker releasing nothing to a
// configuration (HOST_DATA) it did not approve.

/** Variables that change which code runs, how modules resolve, or which TLS roots are trusted. */
export const CODE_CHANGING_VARIABLES = [
  'NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'NODE_TLS_REJECT_UNAUTHORIZED', 'NODE_PRESERVE_SYMLINKS',
  'NODE_PRESERVE_SYMLINKS_MAIN', 'NODE_REPL_EXTERNAL_MODULE', 'NODE_ICU_DATA', 'NODE_COMPILE_CACHE', 'NODE_V8_COVERAGE',
  'NODE_SKIP_PLATFORM_CHECK', 'NODE_USE_SYSTEM_CA', 'NODE_DEBUG_NATIVE',
  'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'OPENSSL_CONF', 'OPENSSL_MODULES', 'OPENSSL_ENGINES', 'SSL_CERT_FILE', 'SSL_CERT_DIR',
] as const;

/** The only node flags the measured start command uses (heap sizing); anything else is refused. */
const ALLOWED_FLAG = /^--max-(semi|old)-space-size=\d+$/u;

/** One problem line per offending variable or flag (names only, never values). */
export function enclaveProcessProblems(env: NodeJS.ProcessEnv, execArgv: readonly string[]): string[] {
  const problems: string[] = [];
  for (const name of CODE_CHANGING_VARIABLES) {
    if (env[name] !== undefined) problems.push(`${name}: not allowed when ENCLAVE_MODE=true (it changes what code runs or which certificates are trusted)`);
  }
  const flags = execArgv.filter((flag) => !ALLOWED_FLAG.test(flag));
  if (flags.length > 0) {
    const names = [...new Set(flags.map((flag) => flag.split('=')[0]))].join(', ');
    problems.push(`node flags: ${names} not allowed when ENCLAVE_MODE=true (only heap sizing; --import, --require, --inspect change what code runs)`);
  }
  return problems;
}
