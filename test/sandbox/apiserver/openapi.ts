/**
 * /openapi/v3: just enough for kubectl. kubectl apply/create/replace first ask whether the server
 * validates fields itself (k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go looks for a
 * `fieldValidation` query parameter on the PATCH operation tagged with the object's
 * x-kubernetes-group-version-kind); when it does, kubectl skips client-side schema validation.
 * With no component schemas, `kubectl apply` builds its strategic merge patch from its compiled-in
 * types (k8s.io/kubectl/pkg/cmd/apply/patcher.go falls back to NewPatchMetaFromStruct).
 * /openapi/v2 is a Swagger 2.0 document without definitions: kubectl still reads it where v3 has
 * no answer, for a `kind: List` (the List is no resource with a PATCH operation, so kubectl falls
 * back to client-side validation of each item against the v2 definitions,
 * k8s.io/kubectl/pkg/validation/schema.go validateList). With no definitions every item's lookup
 * finds nothing and is left to the server, as v3's missing schemas leave every other object.
 * kubectl asks for it as protobuf (client-go discovery OpenAPISchema: gnostic's
 * openapi_v2.Document), other clients as JSON.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { sendJson } from './http-util.ts';
import { KUBE_VERSION } from './constants.ts';
import { RESOURCES, apiVersionOf } from './resources.ts';

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

function groupVersions(): Array<{ group: string; version: string }> {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of RESOURCES) seen.set(apiVersionOf(r), { group: r.group, version: r.version });
  return [...seen.values()];
}

function patchOperation(group: string, version: string, kind: string): object {
  return {
    patch: {
      'x-kubernetes-group-version-kind': { group, version, kind },
      parameters: [
        { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
        { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
        { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
        { name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } },
      ],
      responses: {},
    },
  };
}

function gvDocument(group: string, version: string): object {
  const paths: Record<string, object> = {};
  for (const r of RESOURCES.filter((x) => x.group === group && x.version === version && x.verbs.includes('patch'))) {
    const prefix = `/${gvPath(group, version)}`;
    const path = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}/{name}` : `${prefix}/${r.plural}/{name}`;
    paths[path] = patchOperation(group, version, r.kind);
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: KUBE_VERSION.gitVersion }, paths, components: { schemas: {} } };
}

function hashOf(doc: object): string {
  return createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase().slice(0, 128);
}

/**
 * The media type of the protobuf answer. kubectl asks for the older spelling with `@v1.0`, which
 * is no valid media type (Go's mime.ParseMediaType refuses it in a Content-Type), so kube-openapi
 * answers both with this one.
 */
const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/** A length-delimited protobuf field (wire type 2). */
function protoField(field: number, value: Buffer): Buffer {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  return Buffer.concat([Buffer.from(varint((field << 3) | 2)), Buffer.from(varint(value.length)), value]);
}

/** gnostic openapi_v2.Document: swagger = 1, info = 2 (Info: title = 1, version = 2); no paths, no definitions. */
function v2Protobuf(): Buffer {
  const info = Buffer.concat([protoField(1, Buffer.from('Kubernetes')), protoField(2, Buffer.from(KUBE_VERSION.gitVersion))]);
  return Buffer.concat([protoField(1, Buffer.from('2.0')), protoField(2, info)]);
}

/** Answers /openapi/v2, /openapi/v3 and /openapi/v3/<gv>; everything else under /openapi is 404. */
export function serveOpenApi(path: string, _url: URL, res: ServerResponse, accept = ''): void {
  if (path === '/openapi/v2') {
    if (accept.includes('protobuf')) {
      const body = v2Protobuf();
      res.writeHead(200, { 'Content-Type': OPENAPI_V2_PROTOBUF, 'Content-Length': body.length });
      res.end(body);
      return;
    }
    sendJson(res, 200, { swagger: '2.0', info: { title: 'Kubernetes', version: KUBE_VERSION.gitVersion }, paths: {}, definitions: {} });
    return;
  }
  if (path === '/openapi/v3') {
    const paths: Record<string, object> = {};
    for (const { group, version } of groupVersions()) {
      const p = gvPath(group, version);
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hashOf(gvDocument(group, version))}` };
    }
    sendJson(res, 200, { paths });
    return;
  }
  const gv = groupVersions().find(({ group, version }) => path === `/openapi/v3/${gvPath(group, version)}`);
  if (gv) {
    sendJson(res, 200, gvDocument(gv.group, gv.version));
    return;
  }
  sendJson(res, 404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', details: {}, code: 404 });
}
