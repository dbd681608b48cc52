// Reads one set's elements (GETSETELEM + NLM_F_DUMP, multipart until NLMSG_DONE).
import type { NfnlSocket } from './netlink/socket';
import { NFPROTO_INET } from './netlink/constants';
import { getSetElemDump, decodeSetElemMsg, type DecodedElement } from './netlink/setelem';

export async function dumpSet(sock: NfnlSocket, table: string, set: string): Promise<DecodedElement[]> {
  const replies = await sock.dump(`set inet ${table} ${set} (GETSETELEM dump)`, (s) => getSetElemDump(s, NFPROTO_INET, table, set));
  const out: DecodedElement[] = [];
  for (const msg of replies) for (const el of decodeSetElemMsg(msg).elements) out.push(el);
  return out;
}
