// The configuration layer's one error: every problem of the environment, named by variable, never by value.

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.join('\n')}`);
  }
}
