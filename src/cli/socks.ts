/** `kubectl mirrord socks [addr:]port`: the SOCKS5 server alone (port-forward --socks with no -L). */
import type { Command } from 'commander';
import { addClusterFlags, planForwarding } from './forwarding-options.ts';
import type { RawForwardingFlags } from './forwarding-options.ts';

export function registerSocks(program: Command): void {
  const command = program
    .command('socks')
    .description('run a SOCKS5 server whose connections are made from inside the cluster')
    .argument('[[addr:]port]', 'where the SOCKS5 server listens', '1080')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kubectl mirrord socks 1080\n' +
        '  curl --socks5-hostname 127.0.0.1:1080 http://my-service.my-namespace/\n' +
        '  chromium --proxy-server=socks5://127.0.0.1:1080\n',
    );
  addClusterFlags(command).action(async (listen: string, flags: RawForwardingFlags) => {
    const plan = planForwarding({ ...flags, socks: listen }, process.env, 'socks [addr:]port');
    const { runForwarding } = await import('./run-forwarding.ts');
    process.exitCode = await runForwarding(plan);
  });
}
