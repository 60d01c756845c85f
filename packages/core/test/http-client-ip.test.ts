import { expect } from 'chai';
import { ipKey } from '../src/http/client-ip';

describe('http ipKey: the default client key', () => {
  it('keeps IPv4 addresses whole', () => {
    expect(ipKey('203.0.113.7')).to.equal('203.0.113.7');
    expect(ipKey('203.0.113.8')).to.equal('203.0.113.8');
  });

  it('turns IPv4-mapped IPv6 into IPv4, in dotted and hex form, so IPv4 clients never share a key (CVE-2026-30827)', () => {
    expect(ipKey('::ffff:203.0.113.7')).to.equal('203.0.113.7');
    expect(ipKey('::ffff:203.0.113.8')).to.equal('203.0.113.8');
    expect(ipKey('::FFFF:cb00:7107')).to.equal('203.0.113.7');
    expect(ipKey('0:0:0:0:0:ffff:cb00:7108')).to.equal('203.0.113.8');
    expect(ipKey('::ffff:203.0.113.7', 1)).to.equal('203.0.113.7');
  });

  it('unwraps the NAT64 well-known prefix 64:ff9b::/96 to IPv4', () => {
    expect(ipKey('64:ff9b::203.0.113.7')).to.equal('203.0.113.7');
    expect(ipKey('64:ff9b::cb00:7108')).to.equal('203.0.113.8');
  });

  it('never groups the rest of ::/96 (loopback, unspecified, IPv4-compatible)', () => {
    expect(ipKey('::1')).to.equal('::1');
    expect(ipKey('::')).to.equal('::');
    expect(ipKey('::1.2.3.4')).to.equal('::102:304');
    expect(ipKey('::1.2.3.5')).to.equal('::102:305');
  });

  it('groups IPv6 by /56 by default: one key per /56, different /56s differ', () => {
    const a = ipKey('2001:db8:1234:5601:aaaa::1');
    expect(a).to.equal('2001:db8:1234:5600::/56');
    expect(ipKey('2001:db8:1234:56ff:ffff:ffff:ffff:ffff')).to.equal(a);
    expect(ipKey('2001:db8:1234:5701::1')).to.equal('2001:db8:1234:5700::/56');
  });

  it('honours a configured prefix length, and false keys each address alone', () => {
    expect(ipKey('2001:db8:1234:5678:9abc::1', 64)).to.equal('2001:db8:1234:5678::/64');
    expect(ipKey('2001:db8:1234:5678:9abc::1', 48)).to.equal('2001:db8:1234::/48');
    expect(ipKey('2001:db8:1234:5678:9abc::1', 60)).to.equal('2001:db8:1234:5670::/60');
    expect(ipKey('2001:DB8:0:0:1:0:0:1', false)).to.equal('2001:db8::1:0:0:1');
    expect(ipKey('2001:db8::1', 128)).to.equal('2001:db8::1');
  });

  it('drops an IPv6 zone and returns what is not an IP unchanged', () => {
    expect(ipKey('fe80::1%eth0', false)).to.equal('fe80::1');
    expect(ipKey('fe80::1%eth0')).to.equal('fe80::/56');
    expect(ipKey('not-an-ip')).to.equal('not-an-ip');
  });

  it('gives distinct keys to 1000 distinct mapped IPv4 clients', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 1000; i++) keys.add(ipKey(`::ffff:10.0.${i >> 8}.${i & 0xff}`));
    expect(keys.size).to.equal(1000);
  });
});
