/**
 * Keel's replicated key-value store as a runnable node: {@link dev.keel.kv.KvServer} starts a
 * {@code RaftServer} with a {@link dev.keel.kv.store.KvStateMachine} and serves the HTTP API of
 * {@link dev.keel.kv.http.KvHttpApi}; {@link dev.keel.kv.KvConfig} says how.
 */
package dev.keel.kv;
