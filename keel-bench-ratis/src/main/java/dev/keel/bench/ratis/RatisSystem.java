package dev.keel.bench.ratis;

import dev.keel.bench.harness.RaftSystem;
import dev.keel.bench.harness.Setup;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.RaftConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.rpc.SupportedRpcType;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.TimeDuration;

/**
 * Apache Ratis in the side-by-side benchmark: {@link Setup#nodes()} {@link RaftServer}s in this JVM,
 * one {@link RaftGroup}, Ratis' gRPC transport on loopback, each with Ratis' durable
 * {@code SegmentedRaftLog} in its node directory. Proposals go straight into the leader's
 * {@code submitClientRequestAsync} (the entry point Ratis' own gRPC client service calls), so no
 * client-to-leader network hop is measured, the same as for the other systems.
 *
 * <p>Only the durable table: Ratis' in-memory log ({@code raft.server.log.use.memory}, MemoryRaftLog)
 * is documented as "used only for testing", keeps every entry on the heap (nothing frees entries
 * without snapshots, and its indexing assumes nothing was ever purged), and in 3.1.3 its
 * {@code getEntries(start, end)}, which the leader calls on every commit, returns the headers of the
 * log's first entries instead of those from {@code start}. Numbers from it would measure that test
 * double, not Ratis, so {@code durable == false} is refused.
 *
 * <p>Why 3.3.0: with 3.1.3 on a loaded 2-core machine, followers answered many of the leader's
 * pipelined AppendEntries with INCONSISTENCY and the leader's log appender thread was now and then
 * restarted, so entries were resent; the same adapter on 3.3.0 showed none of it. Comparing against
 * the newest release is the fair choice.
 */
public final class RatisSystem implements RaftSystem {

    /** The release measured (the pom's ratis.version). */
    static final String RATIS_VERSION = "3.3.0";

    /** Fixed, so that every run (and every node's storage directory name) is the same. */
    private static final RaftGroupId GROUP_ID =
            RaftGroupId.valueOf(UUID.nameUUIDFromBytes("keel-bench-ratis".getBytes(StandardCharsets.UTF_8)));

    /**
     * Ratis' own default for {@code raft.server.log.force.sync.num}, set explicitly to document it.
     * Every flush of the segmented log is a {@code FileChannel.force(false)} (fdatasync), and an entry
     * counts as flushed (towards the commit quorum) only after that force returns. The log worker
     * flushes when its queue holds no further write, or at the latest once this many entries are
     * written unflushed: group commit with a cap, the equivalent of Keel's "fdatasync once per batch".
     * 1 would force once per entry, which is not how Ratis ships.
     */
    static final int FORCE_SYNC_NUM = 128;

    private final List<RaftServer> servers = new ArrayList<>();
    private final List<CounterStateMachine> stateMachines = new ArrayList<>();
    /** One client identity for every proposal, as one RaftClient would have. */
    private final ClientId clientId = ClientId.randomId();
    private final AtomicLong callIds = new AtomicLong();
    /**
     * Call ids whose replies arrived, piggybacked on later requests. The leader keeps every write's
     * reply in its retry cache for {@code raft.server.retrycache.expirytime} (60 s) unless the
     * client reports it as replied; RaftClient does report them, so without this the benchmark's
     * heap would hold a minute of replies that a real Ratis deployment does not.
     */
    private final ConcurrentLinkedQueue<Long> replied = new ConcurrentLinkedQueue<>();
    private Setup setup;
    private volatile RaftServer leader;

    /** The trivial state machine: counts applied commands; snapshots are Ratis' no-op default. */
    static final class CounterStateMachine extends BaseStateMachine {
        private final AtomicLong applied = new AtomicLong();

        @Override
        public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
            LogEntryProto entry = trx.getLogEntry();
            applied.incrementAndGet();
            // Ratis reads the applied index back from the state machine (snapshots, log purging).
            updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
            return CompletableFuture.completedFuture(Message.EMPTY);
        }

        long applied() {
            return applied.get();
        }
    }

    @Override
    public String name() {
        return "ratis";
    }

    @Override
    public String describe() {
        if (setup == null) return "not started";
        return "Ratis " + RATIS_VERSION + " SegmentedRaftLog, fdatasync before an entry counts as flushed, one force per batch "
                + "(log.force.sync.num=" + FORCE_SYNC_NUM + " caps the batch; unsafe-flush and async-flush off); "
                + "gRPC on loopback; election timeout " + setup.electionTimeoutMinMillis() + "-"
                + setup.electionTimeoutMaxMillis() + " ms; snapshots off; proposals via the leader's "
                + "submitClientRequestAsync with replied call ids piggybacked (as RaftClient does); other settings at "
                + "Ratis defaults (appender buffer 4 MB per AppendEntries, 8 outstanding appends per follower, "
                + "write buffer 8 MB, 32 MB segments, 4096 pending writes, log metadata entries on, pre-vote on)";
    }

    @Override
    public void start(Setup s) throws Exception {
        if (!s.durable()) {
            throw new UnsupportedOperationException("ratis runs only in the durable table: its MemoryRaftLog is a "
                    + "test double (see RatisSystem's class comment)");
        }
        this.setup = s;
        List<RaftPeer> peers = new ArrayList<>();
        for (int id = 1; id <= s.nodes(); id++) {
            peers.add(RaftPeer.newBuilder().setId(peerId(id)).setAddress("127.0.0.1:" + s.port(id)).build());
        }
        RaftGroup group = RaftGroup.valueOf(GROUP_ID, peers);
        try {
            for (int id = 1; id <= s.nodes(); id++) {
                CounterStateMachine sm = new CounterStateMachine();
                RaftServer server = RaftServer.newBuilder()
                        .setServerId(peerId(id))
                        .setGroup(group)
                        .setStateMachine(sm)
                        .setProperties(properties(s, id))
                        // A fresh directory per run: format rather than recover.
                        .setOption(RaftStorage.StartupOption.FORMAT)
                        .build();
                servers.add(server);
                stateMachines.add(sm);
                server.start();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                RaftServer l = findLeader();
                if (l != null) {
                    leader = l;
                    return;
                }
                Thread.sleep(20); // polling for the first election
            }
            throw new IllegalStateException("no Ratis leader within 60 s");
        } catch (Exception e) {
            close();
            throw e;
        }
    }

    private static RaftPeerId peerId(int id) {
        return RaftPeerId.valueOf("n" + id);
    }

    /** Node {@code id}'s configuration; each server gets its own (its port differs). */
    private static RaftProperties properties(Setup s, int id) {
        RaftProperties p = new RaftProperties();
        // Transport: gRPC (Ratis' default, and what its users deploy), bound to loopback on the node's port.
        RaftConfigKeys.Rpc.setType(p, SupportedRpcType.GRPC);
        GrpcConfigKeys.Server.setHost(p, "127.0.0.1");
        GrpcConfigKeys.Server.setPort(p, s.port(id));

        // Storage: everything under the node's directory (the defaults are shared paths in /tmp).
        File dir = s.nodeDir(id).toFile();
        RaftServerConfigKeys.setStorageDir(p, List.of(dir));
        RaftServerConfigKeys.setRemovedGroupsDir(p, new File(dir, "removed-groups"));

        // The durable log. use.memory=false selects SegmentedRaftLog (the default, stated for clarity).
        RaftServerConfigKeys.Log.setUseMemory(p, false);
        RaftServerConfigKeys.Log.setForceSyncNum(p, FORCE_SYNC_NUM);
        // unsafe-flush would count entries as flushed before force() returns; async-flush would run the force
        // on another thread while the worker goes on writing. Both are off by default; pinned off here because
        // the durable table requires that nothing is acknowledged before it is on disk.
        RaftServerConfigKeys.Log.setUnsafeFlushEnabled(p, false);
        RaftServerConfigKeys.Log.setAsyncFlushEnabled(p, false);

        // The harness' election timeout for every system (Ratis' default of 150-300 ms makes leaders step down
        // on a loaded 2-core machine). Ratis' leader heartbeats at half the minimum.
        RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(s.electionTimeoutMinMillis(), TimeUnit.MILLISECONDS));
        RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(s.electionTimeoutMaxMillis(), TimeUnit.MILLISECONDS));

        // Snapshots off, as for the other systems: the counter has nothing worth saving, and a snapshot on stop
        // would only slow close(). (Auto-trigger is off by default.)
        RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, false);
        RaftServerConfigKeys.Snapshot.setTriggerWhenStopEnabled(p, false);

        // Everything else stays at Ratis' defaults; the notable ones, for the record (also in describe()):
        // log.appender.buffer.byte-limit 4 MB per AppendEntries, no element limit; grpc leader outstanding
        // appends 8; log.write.buffer.size 8 MB; log.segment.size.max 32 MB, preallocated 4 MB; write.element-limit
        // 4096 pending writes on the leader; log-metadata (commit index entries) on; pre-vote on.
        return p;
    }

    /** The server whose division is leader and ready (its first entry of the term committed), or null. */
    private RaftServer findLeader() {
        for (RaftServer server : servers) {
            try {
                var info = server.getDivision(GROUP_ID).getInfo();
                if (info.isLeader() && info.isLeaderReady()) return server;
            } catch (IOException e) {
                // The group is not (or no longer) on this server; look at the next.
            }
        }
        return null;
    }

    @Override
    public CompletableFuture<Void> submit(byte[] command) {
        RaftServer server = leader;
        if (server == null) {
            server = findLeader();
            if (server == null) return CompletableFuture.failedFuture(new IllegalStateException("no Ratis leader"));
            leader = server;
        }
        List<Long> done = new ArrayList<>();
        for (Long id; done.size() < 1024 && (id = replied.poll()) != null; ) done.add(id);
        long callId = callIds.incrementAndGet();
        RaftClientRequest request = RaftClientRequest.newBuilder()
                .setClientId(clientId)
                .setLeaderId(server.getId())
                .setGroupId(GROUP_ID)
                .setCallId(callId)
                .setRepliedCallIds(done)
                // A copy, as a request arriving over gRPC would be: the caller may reuse its array.
                .setMessage(Message.valueOf(ByteString.copyFrom(command)))
                .setType(RaftClientRequest.writeRequestType())
                .build();
        CompletableFuture<RaftClientReply> reply;
        try {
            reply = server.submitClientRequestAsync(request);
        } catch (IOException | RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        RaftServer asked = server;
        CompletableFuture<Void> result = new CompletableFuture<>();
        reply.whenComplete((r, t) -> {
            replied.add(callId);
            if (t != null) {
                result.completeExceptionally(t);
            } else if (r.isSuccess()) {
                result.complete(null);
            } else {
                if (r.getNotLeaderException() != null || r.getLeaderNotReadyException() != null
                        || r.getLeaderSteppingDownException() != null) {
                    leader = null; // leadership moved: look for the new leader on the next submit
                }
                Exception e = r.getException();
                result.completeExceptionally(e != null ? e
                        : new IllegalStateException("ratis refused call " + callId + " on " + asked.getId() + ": " + r));
            }
        });
        return result;
    }

    /** The applied-command count of the current leader's state machine. */
    long leaderApplied() {
        RaftServer l = leader;
        return l == null ? -1 : stateMachines.get(servers.indexOf(l)).applied();
    }

    @Override
    public void close() throws IOException {
        // The leader first: followers then only notice at their election timeout, by when they are closed too,
        // while a leader outliving its followers logs a connection-refused warning per retry.
        List<RaftServer> order = new ArrayList<>(servers);
        RaftServer l = leader;
        if (l != null && order.remove(l)) order.addFirst(l);
        IOException first = null;
        for (RaftServer server : order) {
            try {
                server.close();
            } catch (IOException e) {
                if (first == null) first = e;
                else first.addSuppressed(e);
            }
        }
        servers.clear();
        stateMachines.clear();
        leader = null;
        if (first != null) throw first;
    }
}
