// Reads what the ops tests check out of our own rule and runbook files. The rule file is YAML that
// promtool validates; here only its alert blocks are needed, so they are cut at `- alert:` lines
// rather than pulling in a YAML parser.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RULES_FILE = 'deploy/prometheus/enclave-rules.yml';
export const RULE_TESTS_FILE = 'deploy/prometheus/enclave-rules.test.yml';
export const RUNBOOK_FILE = 'docs/runbook.md';
export const DASHBOARD_FILE = 'deploy/grafana/enclave.json';

export function readRepoFile(path: string): string {
  return readFileSync(`${ROOT}${path}`, 'utf8');
}

export interface AlertRule {
  readonly name: string;
  readonly expr: string;
  readonly annotations: ReadonlySet<string>;
  readonly runbookUrl: string | undefined;
}

/** Every alerting rule: its name, expression, annotation keys and runbook link. */
export function alertRules(text: string): AlertRule[] {
  const blocks = text.split(/^\s*- alert: /mu).slice(1);
  return blocks.map((block) => {
    const name = block.slice(0, block.indexOf('\n')).trim();
    const body = block.split(/^\s*- (?:alert|record): /mu)[0] ?? block;
    const annotationsAt = body.indexOf('annotations:');
    const annotationText = annotationsAt < 0 ? '' : body.slice(annotationsAt);
    const annotations = new Set([...annotationText.matchAll(/^\s{10}(\w+):/gmu)].map((m) => m[1]!));
    const expr = /^\s*expr: (.*(?:\n\s{10,}.*)*)/mu.exec(body)?.[1]?.trim() ?? '';
    const runbookUrl = /^\s*runbook_url: (\S+)/mu.exec(body)?.[1];
    return { name, expr, annotations, runbookUrl };
  });
}

/** Recording rules' names (`record:`). */
export function recordedNames(text: string): string[] {
  return [...text.matchAll(/^\s*- record: (\S+)/gmu)].map((m) => m[1]!);
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/gu, '-');
}

/** Anchors of every heading in a Markdown text. */
export function markdownAnchors(text: string): Set<string> {
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gmu)].map((m) => headingAnchor(m[1]!)));
}
