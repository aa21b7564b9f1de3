// @peculiar/x509 (used only to mint test certificate chains) needs tsyringe's Reflect metadata
// API, and no reflect polyfill is installed. This is the small subset tsyringe calls.
const store = new WeakMap<object, Map<unknown, unknown>>();
type Metadata = {
  defineMetadata?: (key: unknown, value: unknown, target: object) => void;
  getOwnMetadata?: (key: unknown, target: object) => unknown;
  getMetadata?: (key: unknown, target: object) => unknown;
  hasMetadata?: (key: unknown, target: object) => boolean;
  metadata?: (key: unknown, value: unknown) => (target: object) => void;
};
const reflect = Reflect as unknown as Metadata;
reflect.defineMetadata ??= (key, value, target) => {
  let map = store.get(target);
  if (map === undefined) store.set(target, (map = new Map()));
  map.set(key, value);
};
reflect.getOwnMetadata ??= (key, target) => store.get(target)?.get(key);
reflect.getMetadata ??= (key, target) => {
  for (let current: object | null = target; current !== null; current = Object.getPrototypeOf(current) as object | null) {
    const value = store.get(current)?.get(key);
    if (value !== undefined) return value;
  }
  return undefined;
};
reflect.hasMetadata ??= (key, target) => reflect.getMetadata?.(key, target) !== undefined;
reflect.metadata ??= (key, value) => (target) => reflect.defineMetadata?.(key, value, target);
export {};
