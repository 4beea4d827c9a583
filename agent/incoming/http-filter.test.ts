/** The HTTP filter's matching rules and its checks of the subscription request. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpFilter, splitTarget } from './http-filter.ts';
import { parseSubscribeRequest } from './subscribe-request.ts';

const req = (target: string, headers: Array<[string, string]> = []) => ({ target, headers });

test('header regex matches "Name: value" case-insensitively; path regex sees path and path?query', () => {
  const header = new HttpFilter({ header: '^x-user: me$' });
  assert.equal(header.matches(req('/', [['X-User', 'ME']])), true);
  assert.equal(header.matches(req('/', [['x-user', 'someone']])), false);
  const path = new HttpFilter({ path: '^(?!/health)' });
  assert.equal(path.matches(req('/health')), false);
  assert.equal(path.matches(req('/api/health')), true);
  const query = new HttpFilter({ path: 'debug=1$' });
  assert.equal(query.matches(req('/a?debug=1')), true, 'the path with its query counts');
  const both = new HttpFilter({ header: 'x-user: me', path: '^/api' });
  assert.equal(both.matches(req('/api', [['x-user', 'me']])), true);
  assert.equal(both.matches(req('/web', [['x-user', 'me']])), false, 'both must match');
  assert.deepEqual([...new HttpFilter({ path: '/' }).ports], [80, 8080]);
  assert.deepEqual(splitTarget('http://h:1/p?q#f'), { path: '/p', pathWithQuery: '/p?q' });
  assert.deepEqual(splitTarget('http://h'), { path: '/', pathWithQuery: '/' });
});

test('subscription requests: each bad field is named', () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ port: 0, mode: 'steal' }, /port must be a TCP port/],
    [{ port: 80, mode: 'copy' }, /mode must be "steal" or "mirror"/],
    [{ port: 80, mode: 'steal', filter: { header: '(' } }, /filter\.header is not a valid JavaScript regex: Invalid regular expression/],
    [{ port: 80, mode: 'steal', filter: { path: '' } }, /filter\.path must be a non-empty regex/],
    [{ port: 80, mode: 'steal', filter: { header: 'a', ports: [0] } }, /filter\.ports must be a list of TCP ports/],
    [{ port: 80, mode: 'steal', filter: {} }, /needs a header or a path/],
    [{ port: 80, mode: 'steal', filter: { heder: 'a' } }, /unknown field filter\.heder/],
    [{ port: 80, mode: 'mirror', filter: { header: 'a' } }, /filter only applies to mode "steal"/],
  ];
  for (const [body, message] of bad) {
    assert.throws(() => parseSubscribeRequest(body), (err: Error & { code?: string }) => err.code === 'EINVAL' && message.test(err.message), JSON.stringify(body));
  }
  assert.equal(parseSubscribeRequest({ port: 80, mode: 'mirror' }).filter, undefined);
});
