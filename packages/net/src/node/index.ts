/**
 * Federa net for Node.js: the defaults of a node that runs on a machine (TCP, WebSockets, mDNS, bootstrap, kad-dht,
 * crash-safe storage on disk).
 *
 * @packageDocumentation
 */

export { FEDERA_DHT_PROTOCOL } from "../constants.js";
export type { DurableFsStorageInit, StorageFileFailure } from "./durable-fs-storage.js";
export { DurableFsStorageAdapter, StorageBusyError, StorageDirectoryError } from "./durable-fs-storage.js";
export type { DhtOptions, NodeOptionsInit } from "./node-options.js";
export { DEFAULT_LISTEN, MDNS_INTERVAL_MS, nodeOptions } from "./node-options.js";
export type { LockHolder } from "./pid-lock.js";
export { PidLock } from "./pid-lock.js";
