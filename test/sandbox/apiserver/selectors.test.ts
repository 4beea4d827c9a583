import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../contract.ts';
import { matchesLabelSelectorObject, parseFieldSelector, parseLabelSelector } from './selectors.ts';

function pod(labels: Record<string, string>, phase = 'Running'): KObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'ns1', uid: 'u', resourceVersion: '1', creationTimestamp: '', labels }, spec: { nodeName: 'sandbox' }, status: { phase } };
}

test('label selector operators', () => {
  const p = pod({ app: 'web', tier: 'front' });
  const cases: Array<[string, boolean]> = [
    ['app=web', true], ['app==web', true], ['app!=web', false], ['app!=db', true], ['missing!=x', true],
    ['app in (db, web)', true], ['app in (db)', false], ['app notin (db)', true], ['app notin (web,db)', false],
    ['tier', true], ['!tier', false], ['!missing', true], ['app=web,tier=front', true], ['app=web,tier=back', false],
    ['', true],
  ];
  for (const [selector, expected] of cases) assert.equal(parseLabelSelector(selector)(p), expected, selector);
});

test('label selector syntax errors are 400 BadRequest', () => {
  assert.throws(() => parseLabelSelector('app in web'), (err: any) => err.code === 400);
});

test('field selectors on name, namespace, phase and nodeName', () => {
  const p = pod({}, 'Pending');
  assert.equal(parseFieldSelector('metadata.name=p1')(p), true);
  assert.equal(parseFieldSelector('metadata.name=p2')(p), false);
  assert.equal(parseFieldSelector('metadata.namespace==ns1,status.phase!=Running')(p), true);
  assert.equal(parseFieldSelector('spec.nodeName=sandbox,status.phase=Running')(p), false);
});

test('matchLabels and matchExpressions', () => {
  const sel = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }, { key: 'canary', operator: 'DoesNotExist' }] };
  assert.equal(matchesLabelSelectorObject({ app: 'web', tier: 'front' }, sel), true);
  assert.equal(matchesLabelSelectorObject({ app: 'web', tier: 'front', canary: 'y' }, sel), false);
  assert.equal(matchesLabelSelectorObject({ app: 'web' }, undefined), false);
});
