import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddress, compileTrust, parseAddress } from '../../src/routing/client-address.js';

const walk = (peer: string, xff: string | string[] | undefined, trust: Parameters<typeof compileTrust>[0]) =>
  clientAddress(peer, xff, compileTrust(trust));

test('trust_proxy: false ignores X-Forwarded-For', () => {
  assert.deepEqual(walk('127.0.0.1', '1.1.1.1', false), { ip: '127.0.0.1', chain: ['127.0.0.1'], malformed: false });
  assert.deepEqual(walk('127.0.0.1', 'junk', false), { ip: '127.0.0.1', chain: ['127.0.0.1'], malformed: false }, 'an untrusted peer\'s junk is never read');
});

test('no header, or an empty one: the peer is the client', () => {
  for (const xff of [undefined, '', '  ', []]) assert.deepEqual(walk('10.0.0.1', xff, true), { ip: '10.0.0.1', chain: ['10.0.0.1'], malformed: false });
});

test('trust_proxy: true walks to the leftmost entry', () => {
  assert.deepEqual(walk('127.0.0.1', '198.51.100.1, 10.0.0.1', true), { ip: '198.51.100.1', chain: ['198.51.100.1', '10.0.0.1', '127.0.0.1'], malformed: false });
});

test('hop count: the nearest N hops speak for the one before them', () => {
  assert.equal(walk('127.0.0.1', '6.6.6.6, 198.51.100.7', 1).ip, '198.51.100.7');
  assert.deepEqual(walk('127.0.0.1', '6.6.6.6, 198.51.100.7', 2).chain, ['6.6.6.6', '198.51.100.7', '127.0.0.1']);
  assert.equal(walk('127.0.0.1', '198.51.100.7', 3).ip, '198.51.100.7', 'fewer entries than hops: the leftmost');
});

test('CIDR list: walk from the right while the hop is trusted', () => {
  const trust = ['127.0.0.1/8', '10.0.0.0/8'];
  assert.deepEqual(walk('127.0.0.1', '9.9.9.9, 203.0.113.5, 10.1.1.1', trust), { ip: '203.0.113.5', chain: ['203.0.113.5', '10.1.1.1', '127.0.0.1'], malformed: false });
  assert.equal(walk('192.0.2.1', '203.0.113.5', trust).ip, '192.0.2.1', 'an untrusted peer is the client');
  assert.equal(walk('127.0.0.1', '203.0.113.5', ['127.0.0.1']).ip, '203.0.113.5', 'a single address');
  assert.equal(walk('127.0.0.1', '203.0.113.5', ['loopback']).ip, '203.0.113.5', "proxy-addr's named ranges");
  assert.equal(walk('127.0.0.1', '203.0.113.5', ['127.0.0.0/255.0.0.0']).ip, '203.0.113.5', 'an IPv4 netmask');
  assert.equal(walk('::1', '2001:db8::5, fd00::1', ['::1', 'fc00::/7']).ip, '2001:db8::5', 'IPv6 ranges');
  assert.equal(walk('::ffff:127.0.0.1', '203.0.113.5', ['127.0.0.1']).ip, '203.0.113.5', 'a mapped peer matches an IPv4 range');
  assert.equal(walk('127.0.0.1', '203.0.113.5', ['::ffff:127.0.0.0/104']).ip, '203.0.113.5', 'a mapped range matches IPv4');
  assert.equal(walk('127.0.0.1', '203.0.113.5', ['::1']).ip, '127.0.0.1', 'families do not mix');
});

test('a bad trust_proxy entry is refused when compiled', () => {
  assert.throws(() => compileTrust(['not-an-ip']), /trust_proxy: invalid address "not-an-ip"/);
  assert.throws(() => compileTrust(['10.0.0.0/33']), /invalid range/);
  assert.throws(() => compileTrust(['10.0.0.0/x']), /invalid range/);
});

test('an entry that is not an IP address ends the walk at the last valid hop', () => {
  for (const junk of ['not-an-ip', '999.1.1.1', '1.2.3.4:80', '[::1]', '01.2.3.4', '127.1', '0x7f.0.0.1', 'fe80::1%eth0', '', 'x'.repeat(3000)]) {
    assert.deepEqual(walk('127.0.0.1', `${junk}, 198.51.100.9`, true), { ip: '198.51.100.9', chain: ['198.51.100.9', '127.0.0.1'], malformed: true }, JSON.stringify(junk.slice(0, 20)));
    assert.deepEqual(walk('127.0.0.1', junk === '' ? ',' : junk, true), { ip: '127.0.0.1', chain: ['127.0.0.1'], malformed: true }, 'the peer, when the first entry is junk');
  }
  assert.deepEqual(walk('127.0.0.1', '198.51.100.1, junk, 10.1.1.1', ['127.0.0.1', '10.0.0.0/8']), { ip: '10.1.1.1', chain: ['10.1.1.1', '127.0.0.1'], malformed: true }, 'nothing left of the junk is believed');
  assert.equal(walk('127.0.0.1', 'junk, 198.51.100.9', ['127.0.0.1']).malformed, false, 'junk the walk never reaches is not counted');
});

test('header values given as a list are one chain', () => {
  assert.deepEqual(walk('127.0.0.1', ['198.51.100.1', '10.0.0.1'], true).chain, ['198.51.100.1', '10.0.0.1', '127.0.0.1']);
});

test('addresses come out in one spelling', () => {
  assert.equal(walk('127.0.0.1', '::FFFF:198.51.100.1', true).ip, '198.51.100.1', 'IPv4-mapped collapses to IPv4');
  assert.equal(walk('127.0.0.1', '::ffff:c633:6401', true).ip, '198.51.100.1', 'in hex too');
  assert.equal(walk('127.0.0.1', '2001:DB8:0:0:0:0:0:1', true).ip, '2001:db8::1', 'IPv6 compressed, lower case');
  assert.equal(walk('::ffff:127.0.0.1', undefined, true).ip, '127.0.0.1', 'a mapped peer collapses too');
  assert.equal(walk('fe80::1%eth0', '198.51.100.1', ['fe80::/10']).ip, '198.51.100.1', "a link-local peer's zone does not stop the walk");
});

test('parseAddress is strict', () => {
  assert.equal(parseAddress('198.51.100.1')?.toString(), '198.51.100.1');
  assert.equal(parseAddress('::1')?.toString(), '::1');
  for (const bad of ['', ' 1.2.3.4', '1.2.3', '1.2.3.4.5', '256.0.0.0', 'localhost', ':::', '1:2:3:4:5:6:7:8:9']) assert.equal(parseAddress(bad), undefined, bad);
});

test('an unknown peer (socket already gone) is no one, not a crash', () => {
  assert.deepEqual(clientAddress(undefined, '1.2.3.4', compileTrust(true)), { ip: '', chain: [], malformed: false });
});
