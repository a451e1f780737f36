/**
 * A linearizability checker for histories recorded by the simulator (or by real clients).
 *
 * <p>{@link dev.keel.sim.lin.LinearizabilityChecker} checks a list of {@link dev.keel.sim.lin.Operation}s
 * against a sequential {@link dev.keel.sim.lin.Model}; {@link dev.keel.sim.lin.RegisterModel} specifies
 * the key-value register map that Keel exposes.
 */
package dev.keel.sim.lin;
