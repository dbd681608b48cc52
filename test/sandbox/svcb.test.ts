import t from 'tap';
import { prng, randomBytes, testSeed } from '../prng';
import { decodeSvcb, encodeSvcb } from '../../lib/sandbox/svcb';

t.test('round trip of every parameter this codec knows', async (t) => {
  const d = {
    priority: 1,
    target: 'svc.example.net',
    mandatory: ['alpn'],
    alpn: ['h2', 'h3'],
    noDefaultAlpn: true,
    port: 8443,
    ipv4hint: ['198.18.0.1', '198.18.0.2'],
    ech: Buffer.from('ech!').toString('base64'),
    ipv6hint: ['2001:db8:ff::1'],
  };
  t.same(decodeSvcb(encodeSvcb(d)), d);
});

t.test('wire matches RFC 9460 appendix D.2 figure 3 (alias-free service form)', async (t) => {
  // "1 foo.example.com. port=53": priority 1, target, key 3 len 2 value 53
  const expected = Buffer.from('0001' + '03666f6f076578616d706c6503636f6d00' + '000300020035', 'hex');
  t.same(encodeSvcb({ priority: 1, target: 'foo.example.com.', port: 53 }), expected);
  t.same(decodeSvcb(expected), { priority: 1, target: 'foo.example.com', port: 53 });
});

t.test('root target and key order', async (t) => {
  const wire = encodeSvcb({ priority: 1, target: '.', ipv6hint: ['2001:db8::1'], ipv4hint: ['192.0.2.1'] });
  t.equal(wire[2], 0, 'root name is one zero byte');
  t.equal(wire.readUInt16BE(3), 4, 'ipv4hint (4) before ipv6hint (6)');
});

t.test('hostile RDATA is rejected with a message, never a crash', async (t) => {
  const good = encodeSvcb({ priority: 1, target: '.', ipv4hint: ['192.0.2.1'] });
  for (let cut = 0; cut < good.length; cut++) {
    const part = good.subarray(0, cut);
    let msg = '';
    try {
      decodeSvcb(part);
    } catch (e) {
      msg = (e as Error).message;
    }
    if (cut !== 3) t.match(msg, /^svcb: /, `cut at ${cut} fails by name`); // 3 bytes = priority + root: valid
  }
  t.throws(() => decodeSvcb(Buffer.from('0001c00c', 'hex')), /compress/);
  t.throws(() => decodeSvcb(Buffer.from('000100' + '00060010' + '20010db8000000000000000000000001' + '00040004c0000201', 'hex')), /out of order/);
  t.throws(() => decodeSvcb(Buffer.from('000100' + '00040003010203', 'hex')), /multiple of 4/);
  const seed = testSeed(0x5eed);
  const rand = prng(seed);
  let unnamed = 0,
    refused = 0;
  for (let i = 0; i < 2000; i++) {
    const b = randomBytes(rand, (i % 40) + 1);
    try {
      decodeSvcb(b);
    } catch (e) {
      refused++;
      if (!/^svcb: /.test((e as Error).message) && unnamed++ === 0) t.fail(`seed ${seed} input ${b.toString('hex')}: unnamed error: ${(e as Error).message}`);
    }
  }
  t.equal(unnamed, 0, `every refusal of 2000 random inputs names svcb (seed ${seed})`);
  t.ok(refused > 0, `random inputs were refused (${refused}), so the check above saw errors (seed ${seed})`);
});

t.test('encode validates its input', async (t) => {
  t.throws(() => encodeSvcb({ priority: 70000, target: '.' }), /priority/);
  t.throws(() => encodeSvcb({ priority: 1, target: '.', ipv4hint: ['2001:db8::1'] }), /ipv4hint/);
  t.throws(() => encodeSvcb({ priority: 1, target: '.', ipv6hint: ['198.18.0.1'] }), /ipv6hint/);
  t.throws(() => encodeSvcb({ priority: 1, target: 'a'.repeat(64) + '.com' }), /label/);
});
