import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConfig } from '../config/config-schema.ts';
import { MirrordError } from '../errors.ts';
import { planForwarding } from './forwarding-options.ts';
import { planTargeting } from './targeting-options.ts';

function usageError(fn: () => unknown, fragment: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof MirrordError && err.exitCode === 2 && fragment.test(err.message));
}

const stealConfig = checkConfig({
  target: { path: 'deployment/from-file', namespace: 'file-ns' },
  agent: { namespace: 'agents', image: 'file/agent:1' },
  feature: { network: { incoming: { mode: 'steal', http_filter: { header_filter: '^x-user: me$' }, port_mapping: [[9333, 80]] } } },
}, 'm.yaml');

test('-R: mirror by default, --steal, local port defaults to the remote one', () => {
  const t = planTargeting({ target: 'pod/web', remote: ['80', '81:9000'] }, undefined)!;
  assert.deepEqual(t.reverse, [
    { remotePort: 80, localPort: 80, mode: 'mirror', filter: undefined },
    { remotePort: 81, localPort: 9000, mode: 'mirror', filter: undefined },
  ]);
  assert.equal(planTargeting({ target: 'pod/web', remote: ['80'], steal: true }, undefined)!.reverse[0].mode, 'steal');
  assert.equal(t.mode, 'auto');
});

test('the config file fills in; flags override it', () => {
  const fromFile = planTargeting({ remote: ['80', '8080'] }, stealConfig)!;
  assert.equal(fromFile.target.name, 'from-file');
  assert.equal(fromFile.namespace, 'file-ns');
  assert.equal(fromFile.agentNamespace, 'agents');
  assert.deepEqual(fromFile.reverse[0], { remotePort: 80, localPort: 9333, mode: 'steal', filter: { header: '^x-user: me$', path: undefined, ports: [80, 8080] } });
  assert.equal(fromFile.reverse[1].localPort, 8080);
  const flags = planTargeting({ target: 'pod/x', namespace: 'n', agentNamespace: 'a', remote: ['80:7000'] }, stealConfig)!;
  assert.equal(flags.target.name, 'x');
  assert.equal(flags.namespace, 'n');
  assert.equal(flags.agentNamespace, 'a');
  assert.equal(flags.reverse[0].localPort, 7000, 'an explicit -R local port beats port_mapping');
});

test('--agent-mode job with no -R', () => {
  const t = planTargeting({ target: 'pod/a', agentMode: 'job' }, undefined)!;
  assert.equal(t.mode, 'job');
  assert.deepEqual(t.reverse, []);
});

test('bad combinations', () => {
  usageError(() => planTargeting({ remote: ['80'] }, undefined), /reverse forwarding needs a target \(--target pod\/NAME …\)/);
  usageError(() => planTargeting({ steal: true }, undefined), /--steal needs -R and a target/);
  usageError(() => planTargeting({ target: 'pod/a', steal: true }, undefined), /--steal was given without -R/);
  usageError(() => planTargeting({ agentMode: 'job' }, undefined), /--agent-mode .* no --target/);
  usageError(() => planTargeting({ target: 'pod/a', agentMode: 'daemonset' }, undefined), /invalid --agent-mode 'daemonset'/);
  usageError(() => planTargeting({ target: 'pod/a', remote: ['80', '80:81'] }, undefined), /remote port 80 twice/);
  usageError(() => planTargeting({ target: 'pod/a', remote: ['http'] }, undefined), /invalid -R 'http'/);
  usageError(() => planTargeting({ target: 'pod/a', remote: ['1:2:3'] }, undefined), /expected remote_port\[:local_port\]/);
  usageError(() => planTargeting({ target: 'pod/a', remote: ['0'] }, undefined), /'0' is not a TCP port/);
  usageError(() => planForwarding({ target: 'pod/a' }, {}), /nothing to forward: give at least one -L, -R or --socks/);
  usageError(() => planForwarding({ target: 'pod/a', remote: ['80'], configFile: '/nonexistent/m.yaml' }, {}), /--config-file \/nonexistent\/m\.yaml: no such file/);
});

test('copy_target: --copy-target, --scale-down (implies a copy), and the file; scale_down of a pod is refused', () => {
  assert.equal(planTargeting({ target: 'deployment/web', remote: ['80'] }, undefined)!.copy, undefined);
  assert.deepEqual(planTargeting({ target: 'deployment/web', remote: ['80'], copyTarget: true }, undefined)!.copy, { scaleDown: false, excludeContainers: [], excludeInitContainers: [] });
  assert.equal(planTargeting({ target: 'deployment/web', remote: ['80'], scaleDown: true }, undefined)!.copy?.scaleDown, true);
  const file = checkConfig({ feature: { copy_target: { scale_down: true, exclude_containers: ['istio-proxy'] } } }, 'm.yaml');
  assert.deepEqual(planTargeting({ target: 'deployment/web', remote: ['80'] }, file)!.copy, { scaleDown: true, excludeContainers: ['istio-proxy'], excludeInitContainers: [] });
  usageError(() => planTargeting({ target: 'pod/web-1', remote: ['80'], scaleDown: true }, undefined), /--scale-down cannot scale pod\/web-1/);
  usageError(() => planTargeting({ target: 'pod/web-1', remote: ['80'] }, file), /feature.copy_target.scale_down cannot scale pod\/web-1/);
  usageError(() => planTargeting({ copyTarget: true }, undefined), /--copy-target copies a target, and no --target was given/);
  assert.equal(planTargeting({ target: 'pod/web-1', remote: ['80'], copyTarget: true }, undefined)!.copy?.scaleDown, false, 'a pod can be copied');
});

test('feature.copy_target: true, an object, or errors naming the field', () => {
  assert.deepEqual(checkConfig({ feature: { copy_target: true } }, 'm.yaml').copyTarget, { scaleDown: false, excludeContainers: [], excludeInitContainers: [] });
  assert.equal(checkConfig({ feature: { copy_target: false } }, 'm.yaml').copyTarget, undefined);
  usageError(() => checkConfig({ feature: { copy_target: { scale_dwon: true } } }, 'm.yaml'), /feature.copy_target.scale_dwon is not a known field/);
  usageError(() => checkConfig({ feature: { copy_target: { scale_down: 'yes' } } }, 'm.yaml'), /feature.copy_target.scale_down must be true or false/);
  usageError(() => checkConfig({ feature: { copy_target: 'yes' } }, 'm.yaml'), /feature.copy_target must be true, false or an object/);
  usageError(() => checkConfig({ feature: { copy_target: { exclude_containers: 'istio' } } }, 'm.yaml'), /feature.copy_target.exclude_containers must be a list/);
});
