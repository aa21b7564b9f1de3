// Types of boundaries.js (plain JS so that eslint.config.js can load it without a build step).
import type { Linter } from 'eslint';

export declare const allowedImports: Readonly<Record<string, readonly string[]>>;
export declare const forbiddenPackages: Readonly<Record<string, { readonly packages: readonly string[]; readonly message: string }>>;
export declare function mayImport(from: string, to: string): boolean;
export declare function boundaryLintConfigs(): Linter.Config[];
