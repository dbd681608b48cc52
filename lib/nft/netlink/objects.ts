// GETTABLE / GETSET: `nft list table` / `nft list set` without the elements; used to check
// that the ruleset is installed before dnswall starts answering.
import {
  nftType,
  NFT_MSG_GETGEN,
  NFTA_GEN_ID,
  NFT_MSG_GETTABLE,
  NFT_MSG_GETSET,
  NFTA_TABLE_NAME,
  NFTA_SET_TABLE,
  NFTA_SET_NAME,
  NFTA_SET_FLAGS,
  NFTA_SET_KEY_LEN,
  NLM_F_REQUEST,
  NLM_F_ACK,
} from './constants';
import { strAttr, nlmsg } from './encode';
import { attrMap, nfAttrs, readBe32, readString, type NlMsg } from './decode';

export function getTableMsg(seq: number, family: number, table: string): Buffer {
  return nlmsg(nftType(NFT_MSG_GETTABLE), NLM_F_REQUEST | NLM_F_ACK, seq, family, [strAttr(NFTA_TABLE_NAME, table)]);
}

export function getSetMsg(seq: number, family: number, table: string, set: string): Buffer {
  return nlmsg(nftType(NFT_MSG_GETSET), NLM_F_REQUEST | NLM_F_ACK, seq, family, [strAttr(NFTA_SET_TABLE, table), strAttr(NFTA_SET_NAME, set)]);
}

export interface SetInfo {
  name?: string;
  flags?: number;
  keyLen?: number;
}

export function decodeSet(msg: NlMsg): SetInfo {
  const a = attrMap(nfAttrs(msg));
  return { name: readString(a.get(NFTA_SET_NAME)), flags: readBe32(a.get(NFTA_SET_FLAGS)), keyLen: readBe32(a.get(NFTA_SET_KEY_LEN)) };
}

/** GETGEN: nf_tables' generation id (one per network namespace, +1 per committed transaction). */
export function getGenMsg(seq: number): Buffer {
  return nlmsg(nftType(NFT_MSG_GETGEN), NLM_F_REQUEST | NLM_F_ACK, seq, 0, []);
}

/** NFTA_GEN_ID of a NEWGEN reply (undefined if absent). */
export function decodeGen(msg: NlMsg): number | undefined {
  return readBe32(attrMap(nfAttrs(msg)).get(NFTA_GEN_ID));
}
