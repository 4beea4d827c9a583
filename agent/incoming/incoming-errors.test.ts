/**
 * Incoming traffic's refusals and leftovers, against a real agent in a namespace playing the pod:
 * each error names what was wrong. Root only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingFixture, POD_H1_PORT, httpGet } from '../../test/support/agent-incoming/incoming-fixture.ts';
import { isRoot } from '../../test/support/agent-incoming/netns.ts';

const skip = isRoot ? false : 'needs root (network namespaces, iptables)';

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await promise.then(() => undefined, (e: { code: string; message: string }) => e);
  assert.ok(err, 'the request must be refused');
  return err;
}

test('bad input: regex, port, mode, field, duplicate, port nobody listens on', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);

  let err = await refusal(cli.subscribe({ port: POD_H1_PORT, mode: 'steal', filter: { header: '(unclosed' } }));
  assert.equal(err.code, 'EINVAL');
  assert.match(err.message, /filter\.header is not a valid JavaScript regex: Invalid regular expression/);
  err = await refusal(cli.subscribe({ port: POD_H1_PORT, mode: 'steal', filter: { path: '[z-a]' } }));
  assert.match(err.message, /filter\.path/);
  err = await refusal(cli.subscribe({ port: 70000, mode: 'steal' }));
  assert.equal(err.code, 'EINVAL');
  assert.match(err.message, /port must be a TCP port/);
  err = await refusal(cli.subscribe({ port: POD_H1_PORT, mode: 'borrow' }));
  assert.match(err.message, /mode must be "steal" or "mirror"/);
  err = await refusal(cli.subscribe({ port: POD_H1_PORT, mode: 'steal', filter: { header: 'x', method: 'GET' } }));
  assert.match(err.message, /filter\.method/);

  err = await refusal(cli.subscribe({ port: 5555, mode: 'steal' }));
  assert.equal(err.code, 'ENOTLISTENING');
  assert.match(err.message, /TCP port 5555/);

  await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  err = await refusal(cli.subscribe({ port: POD_H1_PORT, mode: 'mirror' }));
  assert.equal(err.code, 'EEXIST');
  assert.match(err.message, /port 8080 is already subscribed/);
  err = await refusal(cli.unsubscribe(999));
  assert.equal(err.code, 'EINVAL');
});

test('EPERM: an agent without NET_ADMIN says so, and leaves nothing behind', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent({}, ['setpriv', '--inh-caps', '-net_admin', '--bounding-set', '-net_admin']);
  const cli = await pod.connectCli(agent);
  const err = await refusal(cli.subscribe({ port: POD_H1_PORT, mode: 'steal' }));
  assert.equal(err.code, 'EPERM');
  assert.match(err.message, /lacks the NET_ADMIN capability/);
  assert.deepEqual(await pod.kmrdRules(), []);
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/')).servedBy, 'original');
});

test('MIRRORD_AGENT_IPTABLES names the binary; a missing one is a clear error', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent({ MIRRORD_AGENT_IPTABLES: '/nonexistent/iptables' });
  const cli = await pod.connectCli(agent);
  const err = await refusal(cli.subscribe({ port: POD_H1_PORT, mode: 'steal' }));
  assert.match(err.message, /cannot run \/nonexistent\/iptables: not found .*MIRRORD_AGENT_IPTABLES/);
});

test('leftovers: chains of dead agents are removed on start, live ones are kept', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  // A dead agent's chain (its pid is above the kernel's pid_max limit, so it cannot be running),
  // and an ownerless chain. A live agent started next must remove both; a second agent after it
  // must keep the live agent's chain.
  const dead = 'kubectl-mirrord agent deadbeef pid 4194303 start 1 pidns 0';
  for (const args of [
    ['-N', 'KMRD-deadbeef'],
    ['-I', 'PREROUTING', '1', '-p', 'tcp', '-m', 'comment', '--comment', dead, '-j', 'KMRD-deadbeef'],
    ['-A', 'KMRD-deadbeef', '-p', 'tcp', '--dport', String(POD_H1_PORT), '-m', 'comment', '--comment', dead, '-j', 'REDIRECT', '--to-ports', '1'],
    ['-N', 'KMRD-0000000a'], // no owner comment: an agent died between creating it and its jump
  ]) await pod.ns.exec('iptables', ['-w', '-t', 'nat', ...args]);
  // The dead agent's rule breaks the port (it redirects to a port nobody listens on).
  await assert.rejects(httpGet(pod.ns.podIp, POD_H1_PORT, '/'));

  const live = await pod.startAgent();
  const liveCli = await pod.connectCli(live);
  await liveCli.subscribe({ port: 9090, mode: 'steal' });
  const liveRules = await pod.kmrdRules();
  assert.ok(!liveRules.some((l) => l.includes('deadbeef') || l.includes('0000000a')), liveRules.join('\n'));

  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  const rules = await pod.kmrdRules();
  const chains = new Set(rules.filter((l) => l.startsWith(':KMRD-')).map((l) => l.split(' ')[0]));
  assert.equal(chains.size, 2, `the live agent's chain is kept: ${rules.join('\n')}`);
  assert.ok(agent.stderr().includes('removed iptables rules left by a dead agent') || live.stderr().includes('removed iptables rules left by a dead agent'));
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/')).servedBy, 'user');
});
