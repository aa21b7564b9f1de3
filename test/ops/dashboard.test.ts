// The Grafana dashboard (deploy/grafana/enclave.json): it parses, has the panels operators expect,
// every query is valid PromQL (promtool checks it as a recording rule) and names only metrics that
// the running service exports (read from a scrape of the service started in-process).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startServiceHarness } from '../app/service-harness.js';
import { DASHBOARD_FILE, readRepoFile } from './rule-files.js';
import { promtool } from './promtool.js';

interface Target { readonly expr?: unknown }
interface Panel { readonly title?: unknown; readonly type?: unknown; readonly targets?: readonly Target[] }
interface Dashboard { readonly title?: unknown; readonly uid?: unknown; readonly panels?: readonly Panel[] }

const dashboard = JSON.parse(readRepoFile(DASHBOARD_FILE)) as Dashboard;
const panels = dashboard.panels ?? [];
const queries = panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: String(panel.title), expr: String(target.expr) })));

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset']);

/** Metric names in a PromQL expression: identifiers that are neither functions, keywords nor inside braces, brackets, quotes or grouping clauses. */
function metricNames(expr: string): Set<string> {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/gu, '""')
    .replace(/\{[^}]*\}/gu, ' ')
    .replace(/\[[^\]]*\]/gu, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gu, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\(?))/gu)) {
    const word = match[0];
    if (match[1] === '(' || PROMQL_KEYWORDS.has(word)) continue;
    names.add(word);
  }
  return names;
}

/** Metric families of a Prometheus text scrape, with the series names a histogram adds. */
function exportedNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gmu)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name!}${suffix}`);
  }
  return names;
}

test('the dashboard parses and has the panels operators expect', (t) => {
  t.is(dashboard.title, 'Enclave worker');
  t.is(dashboard.uid, 'enclave-worker');
  const titles = panels.map((panel) => String(panel.title).toLowerCase());
  for (const wanted of ['sync success', 'sync latency', 'accounts by state', 'staleness', 'fills ingested', 'restarts', 'pool queue', 'event-loop lag', 'memory']) {
    t.true(titles.some((title) => title.includes(wanted)), `a panel for ${wanted}`);
  }
  t.true(panels.every((panel) => (panel.targets ?? []).length > 0), 'every panel has a query');
});

test('every dashboard query is valid PromQL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-promql-'));
  try {
    // Grafana's variables replaced by what they expand to, each query checked as a recording rule.
    const rules = queries.map((q, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(q.expr.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*'))}\n`);
    writeFileSync(join(dir, 'queries.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('')}`);
    const result = await promtool(['check', 'rules', join(dir, 'queries.yml')]);
    t.is(result.code, 0, `${result.stdout}${result.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every panel query names only metrics the running service exports', async (t) => {
  const harness = await startServiceHarness({ SYNC_INTERVAL_MS: '3600000' });
  try {
    const response = await fetch(`http://127.0.0.1:${harness.service.metricsPort}/metrics`);
    const exported = exportedNames(await response.text());
    t.true(exported.has('enclave_venue_syncs_total'), 'the scrape lists the service metrics');
    for (const { panel, expr } of queries) {
      const names = metricNames(expr);
      t.true(names.size > 0, `${panel}: the query names a metric`);
      for (const name of names) t.true(exported.has(name), `${panel}: ${name} is exported`);
    }
  } finally {
    await harness.close();
  }
});

test('metric names are read out of PromQL without functions, labels or grouping', (t) => {
  t.deepEqual([...metricNames('histogram_quantile(0.95, sum by (venue, le) (rate(x_bucket{a="b(c)"}[5m]))) / on(venue) group_left y')], ['x_bucket', 'y']);
});
