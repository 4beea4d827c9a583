/** Reading `iptables -S` output, planning a chain's removal, and judging leftover chains. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planChainRemoval, restoreInput, splitRuleLine } from './iptables.ts';
import { plainAddress } from './redirected.ts';
import { judgeChains, judgeSets } from './leftovers.ts';
import { parseSetName, setName } from './ipset.ts';
import { ownerComment, parseOwnerComment, processStartTime } from './owner.ts';

const listing = [
  '-P PREROUTING ACCEPT',
  '-N KMRD-aaaaaaaa',
  '-N KMRD-bbbbbbbb',
  '-N KMRD-cccccccc',
  '-A PREROUTING -p tcp -m comment --comment "kubectl-mirrord agent aaaaaaaa pid 10 start 5 pidns 7" -j KMRD-aaaaaaaa',
  '-A PREROUTING -p tcp -m comment --comment "kubectl-mirrord agent bbbbbbbb pid 11 start 6 pidns 7" -j KMRD-bbbbbbbb',
  '-A KMRD-aaaaaaaa -p tcp -m tcp --dport 80 -m comment --comment "kubectl-mirrord agent aaaaaaaa pid 10 start 5 pidns 7" -j REDIRECT --to-ports 4000',
].join('\n');

test('split keeps quoted comments whole, with escapes', () => {
  assert.deepEqual(splitRuleLine('-A X -m comment --comment "a \\"b\\" c" -j Y'), ['-A', 'X', '-m', 'comment', '--comment', 'a "b" c', '-j', 'Y']);
});

test('removal deletes the jump by its exact spec, then flushes and deletes the chain', () => {
  assert.deepEqual(planChainRemoval(listing, 'KMRD-aaaaaaaa'), [
    ['-D', 'PREROUTING', '-p', 'tcp', '-m', 'comment', '--comment', 'kubectl-mirrord agent aaaaaaaa pid 10 start 5 pidns 7', '-j', 'KMRD-aaaaaaaa'],
    ['-F', 'KMRD-aaaaaaaa'], ['-X', 'KMRD-aaaaaaaa'],
  ]);
  assert.deepEqual(planChainRemoval(listing, 'KMRD-dddddddd'), [], 'a missing chain is nothing to do');
});

test('leftovers: dead owners and ownerless chains go, live and unknown ones stay, ours is skipped', () => {
  const verdicts = judgeChains(listing, 'KMRD-bbbbbbbb', (owner) => (owner.pid === 10 ? 'dead' : 'alive'));
  assert.deepEqual(verdicts.map((v) => [v.chain, v.action]), [['KMRD-aaaaaaaa', 'removed'], ['KMRD-cccccccc', 'removed']]);
  const kept = judgeChains(listing, 'KMRD-cccccccc', () => 'unknown');
  assert.deepEqual(kept.map((v) => v.action), ['kept', 'kept']);
});

test('owner comments round-trip; this process has a start time', () => {
  const owner = { agentId: '0123abcd', pid: 42, start: 99, pidNs: 4026531836 };
  assert.deepEqual(parseOwnerComment(ownerComment(owner)), owner);
  assert.equal(parseOwnerComment('something else'), undefined);
  assert.ok((processStartTime(process.pid) ?? 0) > 0);
  assert.equal(processStartTime(4194303 + 1), undefined);
});

test('leftover sets: ours whose chain is gone or was just removed; never our own, never someone else\'s', () => {
  const sets = ['KMRD-aaaaaaaa-80', 'KMRD-bbbbbbbb-80', 'KMRD-dddddddd-443', 'KMRD-cccccccc-9', 'other-set', 'KMRD-xyz-1'];
  assert.deepEqual(judgeSets(sets, listing, 'KMRD-cccccccc', ['KMRD-aaaaaaaa']), ['KMRD-aaaaaaaa-80', 'KMRD-dddddddd-443']);
  assert.deepEqual(parseSetName(setName('0123abcd', 65535)), { agentId: '0123abcd', port: 65535 });
  assert.ok(setName('0123abcd', 65535).length <= 31, 'ipset names are at most 31 bytes');
});

test('a chain listed in both tables is judged once', () => {
  const both = `${listing}\n-P INPUT ACCEPT\n-N KMRD-aaaaaaaa\n-A INPUT -p tcp -m comment --comment "kubectl-mirrord agent aaaaaaaa pid 10 start 5 pidns 7" -j KMRD-aaaaaaaa`;
  assert.deepEqual(judgeChains(both, 'KMRD-bbbbbbbb', () => 'dead').map((v) => v.chain), ['KMRD-aaaaaaaa', 'KMRD-cccccccc']);
});

test('restore input: one block per table in first-seen order, words with spaces or quotes quoted', () => {
  const input = restoreInput([
    { table: 'filter', args: ['-A', 'KMRD-a', '-m', 'conntrack', '!', '--ctstate', 'DNAT', '-m', 'comment', '--comment', 'kubectl-mirrord agent a pid 1', '-j', 'REJECT'] },
    { table: 'nat', args: ['-A', 'KMRD-a', '-m', 'comment', '--comment', 'say "hi" \\ bye', '-j', 'REDIRECT'] },
    { table: 'filter', args: ['-N', 'KMRD-b'] },
  ]);
  assert.equal(input, [
    '*filter',
    '-A KMRD-a -m conntrack ! --ctstate DNAT -m comment --comment "kubectl-mirrord agent a pid 1" -j REJECT',
    '-N KMRD-b',
    'COMMIT',
    '*nat',
    '-A KMRD-a -m comment --comment "say \\"hi\\" \\\\ bye" -j REDIRECT',
    'COMMIT',
    '',
  ].join('\n'));
  // What iptables -S would print for that comment reads back as the same words.
  assert.deepEqual(splitRuleLine(input.split('\n')[5]).slice(4, 6), ['--comment', 'say "hi" \\ bye']);
});

test('client addresses: IPv4-mapped becomes plain IPv4, a zone index goes, IPv6 stays', () => {
  assert.equal(plainAddress('::ffff:10.244.0.5', '0.0.0.0'), '10.244.0.5');
  assert.equal(plainAddress('fd00:10:244::5', '0.0.0.0'), 'fd00:10:244::5');
  assert.equal(plainAddress('fe80::1%eth0', '0.0.0.0'), 'fe80::1');
  assert.equal(plainAddress('::ffff:abcd', '0.0.0.0'), '::ffff:abcd');
  assert.equal(plainAddress(undefined, '0.0.0.0'), '0.0.0.0');
});
