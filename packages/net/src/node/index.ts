/**
 * Federa net for Node.js: the defaults of a node that runs on a machine (TCP, WebSockets, mDNS, bootstrap, kad-dht,
 * storage on disk).
 *
 * @packageDocumentation
 */
export type { NodeOptionsInit } from "./node-options.js";
export { DEFAULT_LISTEN, FEDERA_DHT_PROTOCOL, MDNS_INTERVAL_MS, nodeOptions } from "./node-options.js";
