// Inside the node namespace: which of the given set keys are present, by one single-key
// NFT_MSG_GETSETELEM each (O(1) in the kernel; `nft list set` and `nft get element` dump the
// whole set, which takes seconds at 100k elements). Prints {"checked":N,"found":M,"missing":[first 20 hex keys]}.
// Usage: node dist/bench/probe-main.js TABLE SET HEXKEY...
import { NfnlSocket } from '../lib/nft/netlink/socket';
import { NFPROTO_INET, NFT_MSG_GETSETELEM, NLM_F_ACK } from '../lib/nft/netlink/constants';
import { setElemMsg, encodeElement } from '../lib/nft/netlink/setelem';

const MAX_KEYS = 1000;

(async () => {
  const [table, set, ...hex] = process.argv.slice(2);
  if (!table || !set || hex.length > MAX_KEYS || hex.some((h) => !/^([0-9a-f]{2})+$/.test(h))) throw new Error(`usage: probe-main TABLE SET HEXKEY... (at most ${MAX_KEYS})`);
  const sock = new NfnlSocket();
  let found = 0;
  const missing: string[] = [];
  for (const h of hex) {
    const key = Buffer.from(h, 'hex');
    const ok = await sock
      .get(`get element ${h}`, (seq) => setElemMsg(NFT_MSG_GETSETELEM, NLM_F_ACK, seq, NFPROTO_INET, table, set, [encodeElement({ key })]))
      .then(
        () => true,
        () => false,
      );
    if (ok) found++;
    else if (missing.length < 20) missing.push(h);
  }
  sock.close();
  console.log(JSON.stringify({ checked: hex.length, found, missing }));
})().catch((e) => {
  console.error(`probe: ${(e as Error).message}`);
  process.exit(1);
});
