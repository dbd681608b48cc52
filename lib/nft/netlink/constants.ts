// Kernel constants, named as in include/uapi/linux/netlink.h, netfilter/nfnetlink.h and
// netfilter/nf_tables.h. Only what dnswall sends or parses.

export const NETLINK_NETFILTER = 12;

// nlmsghdr
export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_CREATE = 0x400;
export const NLM_F_EXCL = 0x200;

// nlattr
export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
export const NLA_TYPE_MASK = 0x3fff;
/** nla_len is a u16: one attribute (nested ones included) can never exceed this. */
export const NLA_MAX_LEN = 0xffff;

// nfgenmsg (struct nfgenmsg: u8 family, u8 version, be16 res_id)
export const NFGENMSG_LEN = 4;
export const NFNETLINK_V0 = 0;
export const NFNL_SUBSYS_NFTABLES = 10;
export const NFNL_MSG_BATCH_BEGIN = 0x10;
export const NFNL_MSG_BATCH_END = 0x11;

export const NFPROTO_INET = 1;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;

// nfnetlink multicast groups (enum nfnetlink_groups)
export const NFNLGRP_NFTABLES = 7;

// enum nf_tables_msg_types
export const NFT_MSG_GETTABLE = 0x01;
export const NFT_MSG_DELTABLE = 0x02;
export const NFT_MSG_NEWSET = 0x09;
export const NFT_MSG_GETSET = 0x0a;
export const NFT_MSG_DELSET = 0x0b;
export const NFT_MSG_NEWSETELEM = 0x0c;
export const NFT_MSG_GETSETELEM = 0x0d;
export const NFT_MSG_DELSETELEM = 0x0e;
/** Sent to NFNLGRP_NFTABLES after every committed transaction (last, after its changes); NFTA_GEN_ID = the new generation. */
export const NFT_MSG_NEWGEN = 0x0f;
export const NFTA_GEN_ID = 1;
/** The current generation id (the reply is a NEWGEN message); `nft list ruleset` reads it too. */
export const NFT_MSG_GETGEN = 0x10;
export const NFT_MSG_DESTROYTABLE = 0x1a;
export const NFT_MSG_DESTROYSET = 0x1d;
export const NFT_MSG_DESTROYSETELEM = 0x1e; // Linux 6.3+: delete, absent is not an error

/** nlmsg_type of an nf_tables message. */
export function nftType(msg: number): number {
  return (NFNL_SUBSYS_NFTABLES << 8) | msg;
}

// enum nft_table_attributes
export const NFTA_TABLE_NAME = 1;

// enum nft_set_attributes
export const NFTA_SET_TABLE = 1;
export const NFTA_SET_NAME = 2;
export const NFTA_SET_FLAGS = 3;
export const NFTA_SET_KEY_LEN = 5;

// enum nft_set_flags
export const NFT_SET_TIMEOUT = 0x10;

// enum nft_set_elem_list_attributes
export const NFTA_SET_ELEM_LIST_TABLE = 1;
export const NFTA_SET_ELEM_LIST_SET = 2;
export const NFTA_SET_ELEM_LIST_ELEMENTS = 3;

// enum nft_list_attributes
export const NFTA_LIST_ELEM = 1;

// enum nft_set_elem_attributes
export const NFTA_SET_ELEM_KEY = 1;
export const NFTA_SET_ELEM_DATA = 2;
export const NFTA_SET_ELEM_FLAGS = 3;
export const NFTA_SET_ELEM_TIMEOUT = 4;
export const NFTA_SET_ELEM_EXPIRATION = 5;
export const NFTA_SET_ELEM_USERDATA = 6;
export const NFTA_SET_ELEM_KEY_END = 10;

// enum nft_data_attributes
export const NFTA_DATA_VALUE = 1;

// libnftnl include/udata.h: enum nftnl_udata_set_elem_types
export const NFTNL_UDATA_SET_ELEM_COMMENT = 0;
/** include/net/netfilter/nf_tables.h: the kernel refuses larger NFTA_SET_ELEM_USERDATA. */
export const NFT_USERDATA_MAXLEN = 256;
