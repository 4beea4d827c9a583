/** `kubectl mirrord port-forward`: -L forwards and an optional SOCKS5 server over one agent. */
import type { Command } from 'commander';
import { addClusterFlags, addForwardFlags, planForwarding } from './forwarding-options.ts';
import type { RawForwardingFlags } from './forwarding-options.ts';

export function registerPortForward(program: Command): void {
  const command = program
    .command('port-forward')
    .description('forward local ports to anything the cluster can reach, through one in-cluster agent')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kubectl mirrord port-forward -L 8080:ip-visit-counter:80\n' +
        '  kubectl mirrord port-forward -L 5432:db.prod.svc.cluster.local:5432 -L 9000:[fd00::1]:80\n' +
        '  kubectl mirrord port-forward -L 8080:web:80 --socks 1080\n',
    );
  addClusterFlags(addForwardFlags(command)).action(async (flags: RawForwardingFlags) => {
    const plan = planForwarding(flags, process.env);
    const { runForwarding } = await import('./run-forwarding.ts');
    process.exitCode = await runForwarding(plan);
  });
}
