// The sandbox used by the system tests, the benchmark and `dnswall demo`.
export { createTopology, ADDR, INTERNET } from './topology';
export type { Topology, NsRole, AddrPair, ExecOptions } from './topology';
export { onExitCleanup, removeStaleTopologies } from './cleanup';
export { Agent } from './agent';
export type * from './agent';
export { startZoneServer, startWebServer } from './peers';
export type { ZoneServerPeer, WebServerPeer } from './peers';
export { ZoneServer } from './zone-server';
export type { QueryLogLine } from './zone-server';
export { loadZone, lookup } from './zone';
export type { ZoneFile, ZoneRecord, Behaviour, Zone } from './zone';
export { encodeSvcb, decodeSvcb } from './svcb';
export type { SvcbData } from './svcb';
export type { RunResult } from './run';
