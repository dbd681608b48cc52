// A socket error (ENOBUFS arrives as an 'error' event) fails every in-flight batch and never
// crashes the process; the programmer keeps working afterwards.
import { runInNetns, nft } from './netns';
import { openProgrammer, ip4 } from './fixtures';

runInNetns(__filename, (t) => {
  t.test('ENOBUFS fails in-flight adds, then recovery', async (t) => {
    // The ack must still be unread when the error comes: read on the poll, not after sendmsg.
    const p = await openProgrammer({ syncAcks: false });
    const internals = p as unknown as { sock: { sock: NodeJS.EventEmitter; pending: number } };
    const pending = p.add([{ set: 'allow4', source: ip4('10.244.1.5'), destination: ip4('198.51.100.60'), timeoutMs: 10_000, comment: 'a.example.com' }]);
    // Wait until the batch is on the wire, then have the socket report an overflow before its ack is read.
    await new Promise((r) => setImmediate(r));
    t.equal(internals.sock.pending, 1, 'one batch in flight');
    internals.sock.sock.emit('error', Object.assign(new Error('recvmsg: No buffer space available'), { code: 'ENOBUFS', errno: 105 }));
    const err = await pending.catch((e) => e);
    t.equal(err.code, 'ENOBUFS');
    t.match(err.message, /outcome of in-flight requests unknown/);
    await p.add([{ set: 'allow4', source: ip4('10.244.1.5'), destination: ip4('198.51.100.61'), timeoutMs: 10_000, comment: 'b.example.com' }]);
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /198\.51\.100\.61/);
    // Same socket, replies in order: the first batch's ack was read before the second's.
    t.ok((internals.sock as unknown as { strayReplies: number }).strayReplies >= 1, 'the late ack of the failed batch was ignored');
    await p.close();
  });
});
