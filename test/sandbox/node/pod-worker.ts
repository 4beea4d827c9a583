/**
 * Everything the kubelet does for one pod: its network namespace, its files and volumes, its
 * containers (regular and ephemeral), its port relay, its status, and its graceful deletion.
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { containerCgroup } from './container-cgroup.ts';
import type { KObject, Store, TokenIssuer } from '../contract.ts';
import { Container, ImagePullError, type ContainerHost } from './container.ts';
import { buildEnv, ContainerConfigError, expandVars } from './container-env.ts';
import { capabilitySet, type LaunchSpec } from './container-launch.ts';
import { prepareRootfs } from './container-rootfs.ts';
import { tagOf, type ImageRegistry } from './images.ts';
import { OciNotFoundError, pullOciImage, type OciImage } from './oci-image.ts';
import { GATEWAY_IP } from './network-constants.ts';
import { PodDialer } from './pod-dialer.ts';
import { PodPause } from './pod-pause.ts';
import { containerMounts, type PodFiles, type PodVolume, writePodFiles, writeVolumes } from './pod-files.ts';
import { createPodNetwork, deletePodNetwork, hostPodNetwork, type PodIpAllocator, type PodNetwork } from './pod-network.ts';
import { buildPodStatus, ConditionClock } from './pod-status.ts';

/** What every pod worker shares: the node's store, images, IPs and directories. */
export interface NodeContext {
  store: Store;
  images: ImageRegistry;
  ips: PodIpAllocator;
  /** `<stateDir>/node/pods`. */
  podsDir: string;
  /** Read-only host directories every container of a host-program image sees (repo, Node). */
  hostDirs: string[];
  /** Where OCI images are unpacked (`<stateDir>/node/images`). */
  imageCacheDir: string;
  /** The cgroup hierarchy containers join (container-cgroup.ts), if the host has one. */
  cgroupHierarchy?: string;
  /** Issues the ServiceAccount tokens of projected volumes; without it they hold a placeholder. */
  tokens?: TokenIssuer;
}

export class PodWorker {
  pod: KObject;
  readonly dir: string;
  net?: PodNetwork;
  dialer?: PodDialer;
  readonly containers: Container[];
  readonly initContainers: Container[];
  readonly ephemeralContainers: Container[] = [];
  #files?: PodFiles;
  #pause?: PodPause;
  #volumes?: Map<string, PodVolume>;
  #clock = new ConditionClock();
  #startTime = new Date().toISOString();
  #started?: Promise<void>;
  #terminating?: Promise<void>;
  #statusQueued = false;
  readonly #ctx: NodeContext;
  readonly #host: ContainerHost;

  constructor(pod: KObject, ctx: NodeContext) {
    this.pod = pod;
    this.#ctx = ctx;
    this.dir = join(ctx.podsDir, `${pod.metadata.namespace ?? 'default'}_${pod.metadata.name}_${pod.metadata.uid}`);
    this.#host = {
      prepare: (c) => this.#prepare(c),
      changed: () => this.#queueStatus(),
      restartPolicy: pod.spec?.restartPolicy ?? 'Always',
      terminationGraceSeconds: pod.spec?.terminationGracePeriodSeconds ?? 30,
      probeTarget: () => ({ podIP: this.net?.ip ?? '' }),
    };
    this.containers = (pod.spec?.containers ?? []).map((spec: any) => new Container(spec, this.#host));
    this.initContainers = (pod.spec?.initContainers ?? []).map((spec: any) => new Container(spec, this.#host, spec.restartPolicy === 'Always' ? 'sidecar' : 'init'));
    for (const c of this.containers) c.state = { waiting: { reason: this.initContainers.length ? 'PodInitializing' : 'ContainerCreating' } };
  }

  get namespace(): string { return this.pod.metadata.namespace ?? 'default'; }
  get name(): string { return this.pod.metadata.name; }

  /** Creates the sandbox (network, files, relay) and starts every container. Never rejects. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    this.#queueStatus();
    const ip = this.#ctx.ips.allocate();
    try {
      this.net = this.pod.spec?.hostNetwork ? hostPodNetwork() : await createPodNetwork(this.pod.metadata.uid, ip);
      if (this.net.hostNetwork) this.#ctx.ips.release(ip);
    } catch (err) {
      this.#ctx.ips.release(ip);
      for (const c of this.containers) c.state = { waiting: { reason: 'ContainerCreating', message: `failed to set up pod network: ${(err as Error).message}` } };
      this.#queueStatus();
      return;
    }
    await mkdir(join(this.dir, 'logs'), { recursive: true });
    this.#files = await writePodFiles(join(this.dir, 'etc'), this.pod, this.net.ip, this.net.ip6);
    this.dialer = new PodDialer(this.pod.metadata.uid, this.net.netnsPath);
    if (this.pod.spec?.shareProcessNamespace) this.#pause = new PodPause(this.net.netnsPath);
    if (!(await this.#runInitContainers())) return;
    await Promise.all(this.containers.map((c) => c.start()));
    this.#queueStatus();
  }

  /** Init containers one after another, each to completion (sidecars: until started). */
  async #runInitContainers(): Promise<boolean> {
    for (const c of this.initContainers) {
      await c.start();
      if (!(await c.settled())) return false;
      if (this.#terminating) return false;
    }
    return true;
  }

  /** A newer version of the pod: starts ephemeral containers that were added. */
  update(pod: KObject): void {
    this.pod = pod;
    if (this.#terminating || !this.net) return;
    for (const spec of pod.spec?.ephemeralContainers ?? []) {
      if (this.ephemeralContainers.some((c) => c.name === spec.name)) continue;
      const c = new Container(spec, this.#host, 'ephemeral');
      this.ephemeralContainers.push(c);
      void c.start();
    }
  }

  /** The container by name (regular or ephemeral); the only one when `name` is undefined. */
  container(name: string | undefined): Container | undefined {
    if (name === undefined) return this.containers.length === 1 ? this.containers[0] : undefined;
    return [...this.containers, ...this.initContainers, ...this.ephemeralContainers].find((c) => c.name === name);
  }

  /** Log file of a container's current (or given) start. */
  logPath(container: string, restartCount: number): string {
    return join(this.dir, 'logs', container, `${restartCount}.log`);
  }

  /**
   * Graceful deletion: SIGTERM every container, SIGKILL after `graceSeconds`, then remove the
   * relay, network and files. Idempotent; later calls wait for the first.
   */
  terminate(graceSeconds: number): Promise<void> {
    this.#terminating ??= (async () => {
      await this.#started;
      this.#queueStatus();
      const all = [...this.containers, ...this.initContainers, ...this.ephemeralContainers];
      await Promise.all(all.map((c) => c.stop(graceSeconds)));
      this.dialer?.close();
      this.#pause?.stop();
      if (this.net && !this.net.hostNetwork) {
        await deletePodNetwork(this.net);
        this.#ctx.ips.release(this.net.ip);
      }
      await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
    })();
    return this.#terminating;
  }

  async #prepare(c: Container): Promise<LaunchSpec> {
    const image = this.#ctx.images.resolve(c.spec.image ?? '');
    if (!image) throw new ImagePullError(c.spec.image ?? '');
    let oci: OciImage | undefined;
    if (image.oci) {
      try {
        oci = await pullOciImage(image.oci, tagOf(c.spec.image), this.#ctx.imageCacheDir);
      } catch (err) {
        if (err instanceof OciNotFoundError) throw new ImagePullError(c.spec.image, err.message);
        throw err;
      }
    }
    this.#volumes ??= await writeVolumes(join(this.dir, 'volumes'), this.pod, this.#ctx.store, this.#ctx.tokens);
    const mounts = containerMounts(c.spec, this.#volumes);
    const env = buildEnv(c.spec, this.pod, { podIP: this.net!.ip, hostIP: GATEWAY_IP }, this.#ctx.store, oci?.env ?? image.env);
    // Docker/Kubernetes semantics: command replaces ENTRYPOINT (and drops CMD); args replace CMD.
    const argv = [...(c.spec.command ?? oci?.entrypoint ?? image.entrypoint), ...(c.spec.args ?? (c.spec.command ? [] : oci?.cmd ?? image.cmd))]
      .map((a: string) => expandVars(a, env));
    if (argv.length === 0) throw new ContainerConfigError(`no command specified for container "${c.name}" and image "${c.spec.image}" has none`);
    const sc = { ...(this.pod.spec?.securityContext ?? {}), ...(c.spec.securityContext ?? {}) };
    // The image's USER applies unless the pod says otherwise (runAsGroup follows it only then).
    const runAsUser: number | undefined = sc.runAsUser ?? oci?.user?.uid;
    const runAsGroup: number | undefined = sc.runAsGroup ?? (sc.runAsUser === undefined ? oci?.user?.gid : undefined);
    this.#checkNonRoot(c, sc, runAsUser);
    const cdir = join(this.dir, 'containers', c.name);
    const { script, root } = await prepareRootfs({
      dir: cdir, podFiles: this.#files!, hostDirs: this.#ctx.hostDirs, volumes: mounts, readOnly: !!sc.readOnlyRootFilesystem,
      ...(oci ? { imageRoot: oci.rootfs } : {}),
    });
    await mkdir(join(this.dir, 'logs', c.name), { recursive: true });
    const target = c.ephemeral && c.spec.targetContainerName && !this.#pause
      ? this.container(c.spec.targetContainerName)?.pid
      : await this.#pause?.pid();
    return {
      netnsPath: this.net!.netnsPath, rootfsScript: script, root, argv, env, workingDir: c.spec.workingDir ?? oci?.workingDir ?? '/',
      capabilities: capabilitySet(c.spec.securityContext), runAsUser, runAsGroup, enterRoot: !!oci,
      // The pod's cgroup; Container.start appends the container id it makes up.
      ...(this.#ctx.cgroupHierarchy ? { cgroup: dirname(containerCgroup(this.#ctx.cgroupHierarchy, this.pod.metadata.uid, 'x')) } : {}),
      noNewPrivs: sc.allowPrivilegeEscalation === false, hostPid: !!this.pod.spec?.hostPID,
      logPath: this.logPath(c.name, c.restartCount), ...(target ? { joinPidOf: target } : {}),
    };
  }

  /**
   * The kubelet's runAsNonRoot check (pkg/kubelet/kuberuntime/security_context_others.go): a
   * host-program image runs as root, an OCI image as its USER, unless runAsUser says otherwise.
   */
  #checkNonRoot(c: Container, sc: any, uid: number | undefined): void {
    if (!sc.runAsNonRoot) return;
    const who = `pod: "${this.name}_${this.namespace}(${this.pod.metadata.uid})", container: ${c.name}`;
    if (uid === undefined) throw new ContainerConfigError(`container has runAsNonRoot and image will run as root (${who})`);
    if (uid === 0) throw new ContainerConfigError(sc.runAsUser === 0 ? `container's runAsUser breaks non-root policy (${who})` : `container has runAsNonRoot and image will run as root (${who})`);
  }

  /** Coalesces every change in one turn of the event loop into one status write. */
  #queueStatus(): void {
    if (this.#statusQueued) return;
    this.#statusQueued = true;
    setImmediate(() => {
      this.#statusQueued = false;
      const status = buildPodStatus({
        restartPolicy: this.#host.restartPolicy, containers: this.containers, initContainers: this.initContainers, ephemeralContainers: this.ephemeralContainers,
        podIP: this.net?.ip, podIP6: this.net?.ip6, hostIP: GATEWAY_IP, startTime: this.#startTime, terminating: !!this.#terminating,
      }, this.#clock);
      this.#ctx.store.updateStatus('pods', this.namespace, this.name, status);
    });
  }
}
