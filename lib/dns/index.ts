// The DNS wire codec: everything the request path needs, from one import.
export * from './constants';
export * from './errors';
export { readName, nameText, readNameText } from './name';
export { parseQuery, readQuestion, questionMatches } from './query';
export type { Question } from './query';
export { readAnswer, ipv4Text, ipv6Text, MAX_CNAME_HOPS } from './answer';
export { denyResponse, errorResponse, truncatedResponse, withId, readId, edeTextBytes } from './synth';
export type { Query, AnswerAddress, AnswerInfo } from './types';
