/**
 * {@link dev.keel.kv.client.KeelClient}: a Java client that finds the leader, retries safely in
 * client sessions and returns typed results and failures.
 */
package dev.keel.kv.client;
