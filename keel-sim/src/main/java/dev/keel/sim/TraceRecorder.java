package dev.keel.sim;

import dev.keel.core.Entry;
import dev.keel.core.Message;
import dev.keel.core.RaftNode;
import java.util.List;

/**
 * Records a simulation run as NDJSON protocol events, one per line, for trace validation against
 * the TLA+ specification (spec/KeelTrace.tla). Each line names the event ({@code ev}) and the node
 * ({@code n}); most carry the node's state afterwards ({@code s}: term, vote, role, leader, commit,
 * last, lastTerm, snap), which the spec checks, and messages in the spec's own record shape.
 *
 * <p>Events, each an action of the trace spec: {@code start} (a node starts from its disk),
 * {@code crash}, {@code tick}, {@code recv} (a message is stepped), {@code lost} (a message reached
 * a crashed node), {@code propose}, {@code read} (RaftNode.readIndex), {@code persist} (one Ready
 * persisted and its messages handed to the network, with how many copies the network scheduled),
 * {@code torn} (a torn write: only part of a Ready reached the disk), {@code compact} and
 * {@code config} (a membership change, which the trace spec does not model).
 *
 * <p>Only built when asked for (see {@link Simulation#runTraced}): normal runs pay nothing.
 */
public final class TraceRecorder {
    private final StringBuilder out = new StringBuilder();
    private long lines;

    /** The first line: what the run's configuration means for the spec's constants. */
    void header(int[] servers, boolean preVote, boolean checkQuorum) {
        StringBuilder b = new StringBuilder("{\"ev\":\"init\",\"servers\":[");
        for (int i = 0; i < servers.length; i++) b.append(i == 0 ? "" : ",").append(servers[i]);
        b.append("],\"preVote\":").append(preVote).append(",\"checkQuorum\":").append(checkQuorum).append('}');
        line(b.toString());
    }

    void node(String ev, int n, RaftNode raft) {
        line("{\"ev\":\"" + ev + "\",\"n\":" + n + ",\"s\":" + state(raft) + "}");
    }

    void crash(int n) {
        line("{\"ev\":\"crash\",\"n\":" + n + "}");
    }

    void recv(int n, Message m, RaftNode raft) {
        line("{\"ev\":\"recv\",\"n\":" + n + ",\"m\":" + message(m) + ",\"s\":" + state(raft) + "}");
    }

    void lost(Message m) {
        line("{\"ev\":\"lost\",\"n\":" + m.to() + ",\"m\":" + message(m) + "}");
    }

    /** One Ready: sent[i] went out in copies[i] copies (0: dropped by the network at once). */
    void persist(int n, List<Message> sent, List<Integer> copies, RaftNode raft, boolean crashed) {
        StringBuilder b = new StringBuilder("{\"ev\":\"persist\",\"n\":").append(n).append(",\"sent\":[");
        for (int i = 0; i < sent.size(); i++) {
            b.append(i == 0 ? "" : ",").append("{\"m\":").append(message(sent.get(i)))
                    .append(",\"copies\":").append(copies.get(i)).append('}');
        }
        b.append("],\"crashed\":").append(crashed);
        if (!crashed) b.append(",\"s\":").append(state(raft));
        line(b.append('}').toString());
    }

    /** A torn write: the hard state and the first {@code kept} of the entries from index {@code first} are on disk. */
    void torn(int n, long first, int kept) {
        line("{\"ev\":\"torn\",\"n\":" + n + ",\"first\":" + first + ",\"kept\":" + kept + "}");
    }

    void compact(int n, long index) {
        line("{\"ev\":\"compact\",\"n\":" + n + ",\"index\":" + index + "}");
    }

    void config(int n) {
        line("{\"ev\":\"config\",\"n\":" + n + "}");
    }

    /** The trace so far, one JSON object per line. */
    public String ndjson() {
        return out.toString();
    }

    public long lines() {
        return lines;
    }

    private void line(String s) {
        out.append(s).append('\n');
        lines++;
    }

    private static String role(RaftNode raft) {
        return switch (raft.role()) {
            case FOLLOWER -> "F";
            case PRE_CANDIDATE -> "PC";
            case CANDIDATE -> "C";
            case LEADER -> "L";
        };
    }

    static String state(RaftNode r) {
        long last = r.lastIndex();
        return "{\"term\":" + r.currentTerm() + ",\"vote\":" + r.votedFor() + ",\"role\":\"" + role(r) + "\",\"leader\":"
                + r.leaderId() + ",\"commit\":" + r.commitIndex() + ",\"last\":" + last + ",\"lastTerm\":" + r.term(last)
                + ",\"snap\":" + (r.firstIndex() - 1) + "}";
    }

    /** A message in the record shape of spec/Keel.tla (RV, RVR, AE, ...). */
    static String message(Message m) {
        String head = "{\"from\":" + m.from() + ",\"to\":" + m.to() + ",\"term\":" + m.term() + ",\"type\":";
        return head + switch (m) {
            case Message.RequestVote v -> "\"RV\",\"lastIdx\":" + v.lastLogIndex() + ",\"lastTerm\":" + v.lastLogTerm()
                    + ",\"pre\":" + v.preVote() + ",\"transfer\":" + v.leadershipTransfer() + "}";
            case Message.RequestVoteResponse v -> "\"RVR\",\"granted\":" + v.voteGranted() + ",\"pre\":" + v.preVote() + "}";
            case Message.AppendEntries a -> {
                StringBuilder b = new StringBuilder("\"AE\",\"prevIdx\":").append(a.prevLogIndex()).append(",\"prevTerm\":")
                        .append(a.prevLogTerm()).append(",\"entries\":[");
                List<Entry> es = a.entries();
                for (int i = 0; i < es.size(); i++) b.append(i == 0 ? "" : ",").append(es.get(i).term());
                yield b.append("],\"commit\":").append(a.leaderCommit()).append('}').toString();
            }
            case Message.AppendEntriesResponse a -> "\"AER\",\"success\":" + a.success() + ",\"index\":" + a.index()
                    + ",\"cTerm\":" + a.conflictTerm() + ",\"cIndex\":" + a.conflictIndex() + "}";
            case Message.InstallSnapshot s -> "\"IS\",\"idx\":" + s.meta().index() + ",\"sterm\":" + s.meta().term()
                    + ",\"done\":" + s.done() + "}";
            case Message.InstallSnapshotResponse s -> "\"ISR\",\"idx\":" + s.snapshotIndex() + ",\"installed\":"
                    + s.installed() + "}";
            case Message.ReadIndexRequest r -> "\"RIQ\"}";
            case Message.ReadIndexResponse r -> "\"RIR\",\"readIndex\":" + r.readIndex() + ",\"ok\":" + r.ok() + "}";
            case Message.TimeoutNow t -> "\"TN\"}";
        };
    }
}
