/**
 * `kubectl mirrord exec [-t TARGET] [flags] -- PROGRAM [ARGS...]`: runs a program on this machine
 * with the target's environment, files, DNS and outgoing traffic (docs/exec.md). The work is in
 * src/exec/; this file is the command line.
 */
import type { Command } from 'commander';
import { addClusterFlags, addForwardFlags, planForwarding, type RawForwardingFlags } from './forwarding-options.ts';
import { loadConfigFile } from '../config/config-file.ts';
import { planExecFeatures, rejectIncoming, type RawExecFlags } from '../exec/exec-plan.ts';
import { UsageError } from '../errors.ts';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function registerExec(program: Command): void {
  const command = program
    .command('exec')
    .description("run a local program with the target's environment, files, DNS and outgoing traffic")
    .argument('<program>', 'the program (found on this machine\'s PATH)')
    .argument('[args...]', 'its arguments')
    .passThroughOptions()
    .option('--env-file <path>', 'a .env file whose variables override the pod\'s (feature.env.env_file)')
    .option('-s, --env-include <names>', 'take only these pod variables (wildcards * ?; repeatable or "A;B")', collect)
    .option('-x, --env-exclude <names>', 'leave these pod variables out (wildcards * ?; repeatable or "A;B")', collect)
    .option('--fs-mode <mode>', 'read (default with a target: mounts, /etc/resolv.conf, /etc/hosts from the pod), local, or localwithoverrides')
    .option('--no-remote-dns', 'resolve names on this machine, not in the cluster')
    .option('--no-outgoing', 'outgoing TCP and UDP stay on this machine')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kubectl mirrord exec -t deployment/web -- node server.js\n' +
        '  kubectl mirrord exec -t deployment/web -f mirrord.json -- python3 app.py\n' +
        '  kubectl mirrord exec -- curl http://my-service.my-namespace/   (targetless: DNS and traffic only)\n' +
        '\nOnce the program runs, exec exits with the program\'s own exit code.\n',
    );
  addForwardFlags(addClusterFlags(command), "the pod's traffic to the ports the program listens on comes to it, instead of a mirrored copy (feature.network.incoming.mode steal)").action(async (programName: string, args: string[], flags: RawForwardingFlags & RawExecFlags) => {
    if (flags.exitOnDisconnect) {
      throw new UsageError('EEXECFLAG', '--exit-on-disconnect does not apply to exec', { hint: 'under exec, a request waits up to 60 s for a reconnect, then fails with the errno the call would have' });
    }
    rejectIncoming(flags);
    const config = flags.configFile === undefined ? undefined : loadConfigFile(flags.configFile);
    // --steal is exec's own (the program's listening ports), not -R's.
    const forwarding = planForwarding({ ...flags, steal: undefined }, process.env, '--socks', { config, allowNothingToForward: true });
    const features = planExecFeatures(flags, config, forwarding.targeting !== undefined);
    const { runExec } = await import('./run-exec.ts');
    await runExec({ forwarding, features, program: programName, args, configFile: flags.configFile });
  });
}
