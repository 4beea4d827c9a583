/**
 * Test support: krew's manifest rules, ported from kubernetes-sigs/krew
 * internal/index/validation/validate.go (ValidatePlugin, validatePlatform, IsSafePluginName), the
 * version rule of internal/installation/semver, and cmd/validate-krew-manifest (every selector
 * matches a known os/arch, no os/arch matches two platforms, a LICENSE gets installed). Facts and
 * source lines: research/dist.md 1.1 and 1.3. Returns the list of problems; empty means krew would
 * accept the manifest.
 */

/** validate-krew-manifest's built-in platforms (cmd/validate-krew-manifest/main.go). */
export const KNOWN_PLATFORMS: { os: string; arch: string }[] = [
  ...['386', 'amd64', 'arm64'].map((arch) => ({ os: 'windows', arch })),
  ...['386', 'amd64', 'arm', 'arm64', 'ppc64le'].map((arch) => ({ os: 'linux', arch })),
  ...['386', 'amd64', 'arm64'].map((arch) => ({ os: 'darwin', arch })),
];

const RESERVED_NAMES = new Set(['CON', 'PRN', 'AUX', 'NUL', ...Array.from({ length: 9 }, (_, i) => `COM${i + 1}`), ...Array.from({ length: 9 }, (_, i) => `LPT${i + 1}`)]);
/** Names validate-krew-manifest accepts as the license file (lower-cased). */
const LICENSE_NAMES = /^(license|license\.txt|license\.md|licenses.*|copying|copying\.txt)$/;

interface Selector { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] }

/** A k8s label selector against {os, arch} (metav1.LabelSelectorAsSelector semantics). */
export function selectorMatches(selector: Selector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    switch (e.operator) {
      case 'In': if (!inValues) return false; break;
      case 'NotIn': if (inValues) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

/** krew's semver.Parse: a leading v, then k8s ParseSemantic (three parts, no leading zeros). */
export function isKrewVersion(v: unknown): boolean {
  return typeof v === 'string' &&
    /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/.test(v);
}

/**
 * Every rule a manifest must pass for `expectedName` (the file name minus .yaml in a krew index).
 * `installedFiles(platformIndex)` lists the file names the platform's `files` install, for the
 * LICENSE check; pass it to check that rule.
 */
export function validateKrewManifest(m: any, expectedName: string, installedFiles?: (i: number) => string[]): string[] {
  const problems: string[] = [];
  if (m?.apiVersion !== 'krew.googlecontainertools.github.com/v1alpha2') problems.push(`apiVersion is ${m?.apiVersion}`);
  if (m?.kind !== 'Plugin') problems.push(`kind is ${m?.kind}`);
  const name = m?.metadata?.name;
  if (typeof name !== 'string' || !/^[\w-]+$/.test(name) || RESERVED_NAMES.has(name.toUpperCase())) problems.push(`unsafe plugin name ${name}`);
  if (name !== expectedName) problems.push(`plugin name ${name} does not match file name ${expectedName}`);
  const spec = m?.spec ?? {};
  if (!spec.shortDescription || /[\r\n]/.test(spec.shortDescription)) problems.push('shortDescription is empty or has a line break');
  if (!isKrewVersion(spec.version)) problems.push(`version ${spec.version} is not semver with a leading v`);
  const platforms: any[] = spec.platforms ?? [];
  if (platforms.length === 0) problems.push('no platforms');
  platforms.forEach((p, i) => {
    const at = `platforms[${i}]`;
    if (!p.uri) problems.push(`${at}: uri is empty`);
    if (typeof p.sha256 !== 'string' || !/^[a-f0-9]{64}$/.test(p.sha256)) problems.push(`${at}: sha256 ${p.sha256} is not 64 lowercase hex digits`);
    if (!p.bin) problems.push(`${at}: bin is empty`);
    if (p.files !== undefined) {
      if (!Array.isArray(p.files) || p.files.length === 0) problems.push(`${at}: files is present but empty`);
      else p.files.forEach((f: any, j: number) => { if (!f?.from || !f?.to) problems.push(`${at}: files[${j}] needs from and to`); });
    }
    const sel: Selector | undefined = p.selector;
    if (!sel) problems.push(`${at}: selector is missing`);
    else {
      const labels = sel.matchLabels;
      const exprs = sel.matchExpressions;
      if ((labels === undefined || Object.keys(labels).length === 0) && (exprs === undefined || exprs.length === 0)) problems.push(`${at}: selector is empty`);
      if (labels !== undefined && Object.keys(labels).length === 0) problems.push(`${at}: matchLabels is present but empty`);
      if (exprs !== undefined && exprs.length === 0) problems.push(`${at}: matchExpressions is present but empty`);
      for (const k of [...Object.keys(labels ?? {}), ...(exprs ?? []).map((e) => e.key)]) {
        if (k !== 'os' && k !== 'arch') problems.push(`${at}: selector key ${k} is neither os nor arch`);
      }
      if (!KNOWN_PLATFORMS.some((kp) => selectorMatches(sel, kp))) problems.push(`${at}: selector matches no known os/arch`);
    }
    if (installedFiles) {
      const names = installedFiles(i).map((f) => f.split('/').pop()!.toLowerCase());
      if (!names.some((n) => LICENSE_NAMES.test(n))) problems.push(`${at}: no LICENSE file is installed`);
    }
  });
  for (const kp of KNOWN_PLATFORMS) {
    const matching = platforms.filter((p) => p.selector && selectorMatches(p.selector, kp));
    if (matching.length > 1) problems.push(`${kp.os}/${kp.arch} matches ${matching.length} platforms`);
  }
  return problems;
}

/** The archive members a platform's `files` install (from may be a glob: * and ?, as Go's filepath.Match). */
export function installedBy(files: { from: string; to: string }[] | undefined, members: string[]): string[] {
  const rules = files ?? [{ from: '*', to: '.' }];
  const glob = (g: string) => new RegExp('^' + g.split('').map((c) => c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('') + '$');
  return members.filter((m) => rules.some((r) => glob(r.from).test(m)));
}
