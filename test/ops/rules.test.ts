// The alert and recording rules: promtool accepts them, their unit tests pass, every alert has a
// firing and a quiet unit test, a summary, a description and a runbook link to an existing section.
import test from 'ava';
import { alertRules, headingAnchor, markdownAnchors, readRepoFile, ROOT, RULE_TESTS_FILE, RULES_FILE, RUNBOOK_FILE } from './rule-files.js';
import { promtool } from './promtool.js';

const rules = alertRules(readRepoFile(RULES_FILE));

test('promtool check rules accepts the rule file', async (t) => {
  const result = await promtool(['check', 'rules', RULES_FILE], { cwd: ROOT });
  t.is(result.code, 0, `${result.stdout}${result.stderr}`);
  t.regex(result.stdout, /SUCCESS: \d+ rules found/u);
});

test('promtool test rules passes the unit tests', async (t) => {
  const result = await promtool(['test', 'rules', RULE_TESTS_FILE], { cwd: ROOT });
  t.is(result.code, 0, `${result.stdout}${result.stderr}`);
  t.regex(result.stdout, /SUCCESS/u);
});

test('the operator alerts of issue 20 are all there', (t) => {
  const names = new Set(rules.map((r) => r.name));
  for (const name of [
    'EnclaveAccountsStale', 'EnclaveAccountsParked', 'EnclaveTamperDetected', 'EnclaveVenueErrorRatioHigh', 'EnclaveVenueRateLimited',
    'EnclaveFullSyncGateSaturated', 'EnclaveEventLoopLagHigh', 'EnclaveHeapNearLimit', 'EnclaveShardLeaseLost', 'EnclaveShardsUnowned',
    'EnclaveStartupFailing', 'EnclaveDown',
  ]) t.true(names.has(name), name);
  t.is(names.size, rules.length, 'alert names are unique');
});

test('every alert has a summary, a description and a runbook link', (t) => {
  for (const rule of rules) {
    for (const key of ['summary', 'description', 'runbook_url']) t.true(rule.annotations.has(key), `${rule.name}: ${key}`);
  }
});

test('every alert has a unit test where it fires and one where it stays quiet', (t) => {
  const tests = readRepoFile(RULE_TESTS_FILE);
  const cases = [...tests.matchAll(/alertname: (\w+)\n\s*exp_alerts:( \[\])?/gu)].map((m) => ({ name: m[1]!, quiet: m[2] !== undefined }));
  for (const rule of rules) {
    t.true(cases.some((c) => c.name === rule.name && !c.quiet), `${rule.name} fires in a test`);
    t.true(cases.some((c) => c.name === rule.name && c.quiet), `${rule.name} stays quiet in a test`);
  }
});

test('every alert has a runbook section and every runbook link points to an existing anchor', (t) => {
  const runbook = readRepoFile(RUNBOOK_FILE);
  const anchors = markdownAnchors(runbook);
  for (const rule of rules) {
    t.true(new RegExp(`^## ${rule.name}$`, 'mu').test(runbook), `${rule.name} has a runbook section`);
    t.is(rule.runbookUrl, `${RUNBOOK_FILE}#${headingAnchor(rule.name)}`, `${rule.name} links its own section`);
    const anchor = rule.runbookUrl?.split('#')[1] ?? '';
    t.true(anchors.has(anchor), `${rule.name}: #${anchor} exists in ${RUNBOOK_FILE}`);
  }
  for (const [, anchor] of runbook.matchAll(/\]\(#([^)]+)\)/gu)) t.true(anchors.has(anchor!), `the runbook's own link #${anchor} exists`);
});
