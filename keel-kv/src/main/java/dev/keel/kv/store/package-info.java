/**
 * The deterministic KV state machine: byte keys and values, revisions from log indexes,
 * conditional writes, exactly-once client sessions expired by log time, copy-on-write snapshots
 * over a persistent sorted map. Depends only on the {@code StateMachine} interface of keel-server.
 */
package dev.keel.kv.store;
