/**
 * Request counters in Prometheus text format, named as kube-apiserver names them
 * (`apiserver_request_total`, k8s.io/apiserver/pkg/endpoints/metrics/metrics.go), so tests can count
 * for example how many pods/portforward WebSockets a command opened (verb CONNECT).
 */

/** The labels of one apiserver_request_total series. */
export interface RequestLabels {
  verb: string;
  group: string;
  version: string;
  resource: string;
  subresource: string;
  scope: string;
  code: number;
}

/** Counts requests by their labels. */
export class Metrics {
  private readonly counts = new Map<string, number>();

  /** Counts one finished (or, for WebSockets, upgraded) request. */
  record(labels: RequestLabels): void {
    const key = JSON.stringify([labels.code, labels.group, labels.resource, labels.scope, labels.subresource, labels.verb, labels.version]);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** The text exposition (text/plain; version=0.0.4). */
  render(): string {
    const lines = [
      '# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.',
      '# TYPE apiserver_request_total counter',
    ];
    for (const [key, count] of [...this.counts.entries()].sort()) {
      const [code, group, resource, scope, subresource, verb, version] = JSON.parse(key) as string[];
      lines.push(`apiserver_request_total{code="${code}",component="apiserver",dry_run="",group="${group}",resource="${resource}",scope="${scope}",subresource="${subresource}",verb="${verb}",version="${version}"} ${count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** Upstream's metric verb: LIST and WATCH for collection reads, CONNECT for upgrades, else the method. */
export function metricVerb(method: string, verb: string, subresource: string | undefined): string {
  if (subresource === 'portforward' || subresource === 'exec' || subresource === 'attach' || subresource === 'proxy') return 'CONNECT';
  if (verb === 'list') return 'LIST';
  if (verb === 'watch') return 'WATCH';
  return method === 'HEAD' ? 'GET' : method;
}
