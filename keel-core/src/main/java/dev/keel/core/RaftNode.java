package dev.keel.core;

import dev.keel.core.Message.AppendEntries;
import dev.keel.core.Message.AppendEntriesResponse;
import dev.keel.core.Message.InstallSnapshot;
import dev.keel.core.Message.InstallSnapshotResponse;
import dev.keel.core.Message.ReadIndexRequest;
import dev.keel.core.Message.ReadIndexResponse;
import dev.keel.core.Message.RequestVote;
import dev.keel.core.Message.RequestVoteResponse;
import dev.keel.core.Message.TimeoutNow;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;
import java.util.zip.CRC32C;

/**
 * One Raft node's protocol logic as a deterministic state machine: no threads, no IO, no clock.
 *
 * <p>Inputs: {@link #tick()} (logical time), {@link #step(Message)} (a message from a peer),
 * {@link #propose(byte[])} and {@link #readIndex(long)} (client requests). Output: a {@link Ready}
 * from {@link #ready()}, which the driver carries out in the order its Javadoc gives and then
 * acknowledges with {@link #advance(Ready)}. Randomness (election timeouts) comes only from the
 * injected generator, so the same inputs and seed always give the same outputs.
 *
 * <p>Threading: not thread-safe; one thread drives a node.
 *
 * <p>Bad input from peers (a message for another node, from a non-member, or inconsistent with
 * itself) is dropped and counted in {@link #droppedMessages()}, never thrown. An
 * {@link InvariantViolation} is a bug in Keel.
 */
public final class RaftNode {
    /** "No node": no vote cast, no leader known. Node ids are positive. */
    public static final int NONE = 0;

    private final RaftConfig config;
    private final int id;
    /** The latest configuration in our log (thesis §4.1: in effect once appended, committed or not). */
    private Membership membership;
    /** Log index of the entry that set {@code membership} (its snapshot's index, or 0 for the bootstrap). */
    private long membershipIndex;
    private int[] peers; // every member but this node, voters and learners; slots index votes and progress
    private final RandomGenerator random;
    private final RaftLog log;
    private final TestMutation mutation;

    // Persistent state (Figure 2), written out through Ready before any message that depends on it.
    private long currentTerm;
    private int votedFor;

    private Role role = Role.FOLLOWER;
    private int leaderId = NONE;

    // Logical time.
    private long nowTicks;
    private int electionElapsed;
    private int heartbeatElapsed;
    private int randomizedElectionTimeout;

    // Candidate state: votes received in the current (pre-)election, by peer slot.
    private byte[] votes; // 0 = no answer, 1 = granted, 2 = refused

    // Leader state; null unless role == LEADER.
    private Progress[] progress = new Progress[0];
    private long uncommittedBytes;
    /** Thesis §3.10: the voter this leader is handing leadership to, and for how many ticks. */
    private int transferTarget = NONE;
    private int transferElapsed;
    /** Sizes of this leader's proposals not yet committed, for uncommittedBytes without rereading the log. */
    private final SizeQueue proposalSizes = new SizeQueue();
    private long readSeq;
    /**
     * A read is waiting for a heartbeat round that has not been sent yet. Reads arriving together
     * share one round, broadcast when the driver next asks for a Ready: any round started after a
     * read arrived confirms it (thesis §6.4 step 2), so one round per batch of reads is enough,
     * instead of one per read.
     */
    private boolean readRoundPending;
    /** The tick each recent heartbeat round was sent, indexed by readSeq mod its length (for leases). */
    private final long[] roundSentTick = new long[1024];
    /** Reads waiting for the leader to commit an entry of its term (thesis §6.4 step 1). */
    private final ArrayDeque<PendingRead> readsAwaitingTermCommit = new ArrayDeque<>();
    /** Reads waiting for a heartbeat round to confirm leadership (thesis §6.4 step 2), in readSeq order. */
    private final ArrayDeque<PendingRead> readsAwaitingQuorum = new ArrayDeque<>();
    private long[] scratch; // for quorum computations, no allocation per commit

    // Output accumulated for the next Ready.
    private List<Message> outbox = new ArrayList<>();
    private List<ReadState> readStates = new ArrayList<>();
    private List<Long> abortedReads = new ArrayList<>();
    private List<SnapshotChunk> snapshotChunks = new ArrayList<>();
    private SnapshotMeta snapshotToInstall;

    // Follower: the snapshot being received from the leader, its bytes so far and their checksum.
    private SnapshotMeta receiving;
    private long receivedBytes;
    private final CRC32C receivedCrc = new CRC32C();
    private HardState lastHardState;
    private Ready pendingReady; // handed out, not yet advanced

    /** Leader Append-Only (Figure 3): the last entry a leader had at its previous check. */
    private long leaderCheckIndex;
    private long leaderCheckTerm;

    private long droppedMessages;
    /** With leaseReads: a restarted node counts as having just heard from a leader (see inLease). */
    private boolean leaseGuardFromStart;

    private record PendingRead(long context, int requester, long readIndex, long seq) {}

    /**
     * A node starting from its storage, its state machine restored from storage's newest snapshot
     * (or empty when there is none).
     */
    public RaftNode(RaftConfig config, RaftStorage storage, RandomGenerator random) {
        this(config, storage, random, storage.snapshot().index());
    }

    /**
     * A node starting from its storage.
     *
     * @param lastApplied the index the state machine has already applied (from its own snapshot)
     */
    public RaftNode(RaftConfig config, RaftStorage storage, RandomGenerator random, long lastApplied) {
        this.config = config;
        this.id = config.id();
        this.random = random;
        this.mutation = config.mutation();
        HardState hs = storage.hardState();
        this.currentTerm = hs.currentTerm();
        this.votedFor = hs.votedFor();
        this.log = new RaftLog(storage, hs.commitIndex(), lastApplied);
        this.lastHardState = hs;
        this.leaseGuardFromStart = config.leaseReads();
        loadMembershipFromLog();
        if (!(log.lastTerm() <= currentTerm)) throw new InvariantViolation("last log term " + log.lastTerm() + " > currentTerm " + currentTerm);
        resetRandomizedElectionTimeout();
    }

    // ---------------------------------------------------------------- inputs

    /** Advances logical time by one tick: election timeouts, heartbeats, check-quorum. */
    public void tick() {
        nowTicks++;
        if (role == Role.LEADER) {
            tickLeader();
        } else {
            electionElapsed++;
            if (electionElapsed >= randomizedElectionTimeout && canCampaign() && mutation != TestMutation.NO_ELECTIONS) {
                // §5.2: a follower that hears nothing for an election timeout starts an election.
                electionElapsed = 0;
                campaign();
            }
        }
        checkInvariants();
    }

    private void tickLeader() {
        electionElapsed++;
        heartbeatElapsed++;
        if (transferTarget != NONE && ++transferElapsed >= config.electionTimeoutTicks()) {
            transferTarget = NONE; // the target did not take over in time: accept proposals again
        }
        if (electionElapsed >= config.electionTimeoutTicks()) {
            electionElapsed = 0;
            if (config.checkQuorum()) {
                // Thesis §6.2: step down if a majority has not been heard from in an election timeout.
                Membership.VoteResult heard = membership.voteResult(v -> v == id || isRecentlyActive(v) ? 1 : -1);
                for (Progress p : progress) p.recentActive = false;
                if (heard != Membership.VoteResult.WON) {
                    becomeFollower(currentTerm, NONE);
                    return;
                }
            }
        }
        // A follower in REPLICATE whose in-flight AppendEntries got no answer for half an election
        // timeout probably lost them (Raft tolerates loss): fall back to probing, or its window
        // would stay full forever.
        int stallTicks = Math.max(2, config.electionTimeoutTicks() / 2);
        for (Progress p : progress) {
            if (p.state == Progress.State.REPLICATE && p.inflightCount() > 0 && ++p.ticksWithoutProgress >= stallTicks) {
                p.becomeProbe();
            } else if (p.state == Progress.State.SNAPSHOT && p.snapshotSentOffset > p.snapshotAckedOffset
                    && ++p.ticksWithoutProgress >= stallTicks) {
                // Chunks or their answers were lost: resend from what the follower acknowledged.
                p.ticksWithoutProgress = 0;
                p.snapshotSentOffset = p.snapshotAckedOffset;
                p.snapshotDoneSent = false;
            }
        }
        if (heartbeatElapsed >= config.heartbeatIntervalTicks()) {
            heartbeatElapsed = 0;
            broadcastHeartbeat();
        }
    }

    /**
     * Makes this node start an election now, as if its election timer had fired (used by tests and
     * the simulator's manual mode). Ignored on a leader.
     */
    public void campaignNow() {
        if (role != Role.LEADER) {
            electionElapsed = 0;
            campaign();
        }
        checkInvariants();
    }

    /** Handles one message from a peer. Malformed or misdirected messages are dropped and counted. */
    public void step(Message m) {
        // Thesis §4.1: servers process requests without consulting their configuration (a new
        // leader may not yet be in ours); responses from non-members are ignored where handled.
        if (m.to() != id || m.from() == id) {
            droppedMessages++;
            return;
        }
        if (m.term() > currentTerm) {
            if (m instanceof RequestVote rv) {
                // Thesis §4.2.3 (with check-quorum) and §9.6 (Pre-Vote): while a current leader is
                // being heard from, a RequestVote neither raises our term nor gets a vote, so a
                // removed or partitioned server cannot disrupt the cluster.
                boolean inLease = rv.preVote() ? heardFromLeaderRecently() : config.checkQuorum() && heardFromLeaderRecently();
                if (inLease && !rv.leadershipTransfer()) {
                    send(new RequestVoteResponse(id, m.from(), currentTerm, false, rv.preVote()));
                    checkInvariants();
                    return;
                }
                if (!rv.preVote()) becomeFollower(m.term(), NONE);
                // A Pre-Vote does not change anyone's term (thesis §9.6).
            } else if (m instanceof RequestVoteResponse r && r.preVote() && r.voteGranted()) {
                // A granted Pre-Vote carries the term we would campaign in; it is not a newer term.
            } else {
                // Figure 2, all servers: a request or response with a higher term makes us a follower.
                boolean fromLeader = m instanceof AppendEntries || m instanceof InstallSnapshot;
                becomeFollower(m.term(), fromLeader ? m.from() : NONE);
            }
        } else if (m.term() < currentTerm) {
            // A stale sender. Requests get an answer carrying our term so the sender learns it
            // (the seed answered none, leaving stale candidates campaigning forever); stale
            // responses are simply dropped.
            switch (m) {
                case RequestVote rv -> send(new RequestVoteResponse(id, m.from(), currentTerm, false, rv.preVote()));
                case AppendEntries ae -> send(new AppendEntriesResponse(id, m.from(), currentTerm, false,
                        ae.prevLogIndex(), 0, 0, ae.readSeq()));
                case ReadIndexRequest r -> send(new ReadIndexResponse(id, m.from(), currentTerm, r.context(), 0, false));
                case InstallSnapshot is -> send(new InstallSnapshotResponse(id, m.from(), currentTerm, is.meta().index(),
                        0, false, false));
                case InstallSnapshotResponse r -> { }
                case TimeoutNow r -> { }
                case RequestVoteResponse r -> { }
                case AppendEntriesResponse r -> { }
                case ReadIndexResponse r -> { }
            }
            checkInvariants();
            return;
        }

        switch (m) {
            case RequestVote rv -> onRequestVote(rv);
            case RequestVoteResponse r -> onRequestVoteResponse(r);
            case AppendEntries ae -> onAppendEntries(ae);
            case AppendEntriesResponse r -> onAppendEntriesResponse(r);
            case ReadIndexRequest r -> onReadIndexRequest(r);
            case ReadIndexResponse r -> onReadIndexResponse(r);
            case InstallSnapshot is -> onInstallSnapshot(is);
            case InstallSnapshotResponse r -> onInstallSnapshotResponse(r);
            case TimeoutNow t -> onTimeoutNow(t);
        }
        checkInvariants();
    }

    /**
     * Appends a command to the leader's log. The entry is replicated by the following Readys and
     * committed once a majority stores it; it is applied through {@link Ready#committedEntries()}.
     */
    public ProposeResult propose(byte[] command) {
        if (role != Role.LEADER) return new ProposeResult.NotLeader(leaderId);
        if (transferTarget != NONE) {
            return new ProposeResult.Rejected(ProposeResult.Reason.TRANSFERRING, "leadership is moving to " + transferTarget);
        }
        long size = command.length + Entry.OVERHEAD_BYTES;
        if (size > config.maxBytesPerAppend()) {
            return new ProposeResult.Rejected(ProposeResult.Reason.TOO_LARGE,
                    "command of " + command.length + " bytes exceeds maxBytesPerAppend " + config.maxBytesPerAppend());
        }
        // Back-pressure: refuse rather than grow memory without bound. An entry is always allowed
        // when nothing is uncommitted, so one command larger than the cap still makes progress.
        if (uncommittedBytes > 0 && uncommittedBytes + size > config.maxUncommittedBytes()) {
            return new ProposeResult.Rejected(ProposeResult.Reason.UNCOMMITTED_LIMIT,
                    uncommittedBytes + " bytes uncommitted, limit " + config.maxUncommittedBytes());
        }
        Entry e = Entry.normal(log.lastIndex() + 1, currentTerm, command);
        log.append(e);
        uncommittedBytes += size;
        proposalSizes.add(e.index(), size);
        checkInvariants();
        return new ProposeResult.Accepted(e.index(), e.term());
    }

    /**
     * Starts a linearizable read (thesis §6.4). Returns false, doing nothing, when no leader is
     * known ({@link #leaderId()} says whom to ask otherwise). When it returns true, the
     * {@code context} later appears in exactly one of {@link Ready#readStates()} (serve the read
     * once applied up to its index) or {@link Ready#abortedReads()} (leadership was lost: retry),
     * unless this node or its leader crashes or messages are lost, so callers need a timeout.
     */
    public boolean readIndex(long context) {
        boolean accepted;
        if (role == Role.LEADER) {
            registerRead(context, id);
            accepted = true;
        } else if (role == Role.FOLLOWER && leaderId != NONE) {
            send(new ReadIndexRequest(id, leaderId, currentTerm, context));
            accepted = true;
        } else {
            accepted = false;
        }
        checkInvariants();
        return accepted;
    }

    // ---------------------------------------------------------------- Ready / advance

    /** True when {@link #ready()} has something for the driver to do. */
    public boolean hasReady() {
        if (pendingReady != null) return false;
        if (role == Role.LEADER && (readRoundPending || wouldSendAppends())) return true;
        return !outbox.isEmpty() || !readStates.isEmpty() || !abortedReads.isEmpty() || !snapshotChunks.isEmpty()
                || snapshotToInstall != null
                || !currentHardState().equals(lastHardState) || log.lastIndex() > log.handedOffIndex()
                || log.commitIndex > log.lastApplied;
    }

    /**
     * Collects what the driver must persist, send and apply. Call {@link #advance(Ready)} once it
     * is done before asking for the next Ready.
     */
    public Ready ready() {
        if (pendingReady != null) {
            throw new IllegalStateException("ready() called again before advance() of the previous Ready");
        }
        if (role == Role.LEADER) {
            if (readRoundPending) broadcastHeartbeat();
            sendAppends();
        }
        HardState hs = currentHardState();
        HardState changed = hs.equals(lastHardState) ? null : hs;
        lastHardState = hs;
        Ready rd = new Ready(changed, log.unstableEntries(), outbox, log.nextCommitted(config.maxApplyBytesPerReady()),
                readStates, abortedReads, snapshotChunks, snapshotToInstall, role, leaderId, currentTerm);
        outbox = new ArrayList<>();
        readStates = new ArrayList<>();
        abortedReads = new ArrayList<>();
        if (!snapshotChunks.isEmpty()) snapshotChunks = new ArrayList<>();
        snapshotToInstall = null;
        pendingReady = rd;
        checkInvariants();
        return rd;
    }

    /**
     * The driver has persisted, sent and applied everything in {@code rd}. Everything handed off
     * before it by {@link #advanceBeforeDurable} must be durable by now as well (one sync of the
     * log after the last write covers them all).
     */
    public void advance(Ready rd) {
        finishReady(rd);
        if (!rd.entries().isEmpty()) log.handedOffTo(rd.entries().get(rd.entries().size() - 1).index());
        long durable = log.handedOffIndex();
        log.stableTo(durable, log.term(durable));
        // §10.2.1: the leader's own durable log counts towards the majority like any follower's.
        if (role == Role.LEADER) maybeCommit();
        checkInvariants();
    }

    /**
     * Like {@link #advance}, for a leader's Ready whose write has started but is not yet durable:
     * its messages are sent and its committed entries applied, but the leader's own copy of
     * {@code rd.entries()} does not count towards commitment until {@link #persisted} reports it
     * durable. Thesis §10.2.1: the leader writes its log in parallel with replicating it, and an
     * entry commits once a majority holds it durably, which may be the followers without the leader.
     * Meanwhile later Readys carry only entries after these.
     *
     * <p>Only for a Ready of a leader ({@link Ready#role()}) whose hard state, if any, changes neither
     * term nor vote: those must be durable before any message goes out (Figure 2), so such a Ready
     * takes {@link #advance}. The writes must reach the disk in the order they were handed off, and
     * before the driver carries out any later Ready with {@link #advance}, it must finish them.
     *
     * @throws IllegalStateException if {@code rd} is not the pending Ready or not a leader's
     */
    public void advanceBeforeDurable(Ready rd) {
        if (rd.role() != Role.LEADER) {
            throw new IllegalStateException("advanceBeforeDurable() of a " + rd.role() + "'s Ready: only a leader's may go out before its write is durable");
        }
        finishReady(rd);
        if (!rd.entries().isEmpty()) log.handedOffTo(rd.entries().get(rd.entries().size() - 1).index());
        checkInvariants();
    }

    /**
     * The entries handed off up to (index, term) are durable (after {@link #advanceBeforeDurable}):
     * a leader now counts them as its own match. Ignored unless the log still has that entry among
     * those handed off: a write that completes after a new leader's AppendEntries overwrote its
     * entries (the node had lost leadership meanwhile) says nothing of what replaced them, which is
     * handed off again. May be called while a Ready is pending.
     */
    public void persisted(long index, long term) {
        if (index > log.handedOffIndex()) return;
        log.stableTo(index, term);
        if (role == Role.LEADER) maybeCommit();
        checkInvariants();
    }

    private void finishReady(Ready rd) {
        if (rd != pendingReady) throw new IllegalStateException("advance() of a Ready that is not the pending one");
        pendingReady = null;
        if (!rd.committedEntries().isEmpty()) {
            log.appliedTo(rd.committedEntries().get(rd.committedEntries().size() - 1).index());
        }
    }

    private HardState currentHardState() {
        int persistedVote = mutation == TestMutation.FORGET_PERSIST_VOTE ? NONE : votedFor;
        return new HardState(currentTerm, persistedVote, log.commitIndex);
    }

    // ---------------------------------------------------------------- elections

    private void campaign() {
        leaseGuardFromStart = false; // we have waited out a full election timeout
        // A pre-candidate whose round timed out pre-votes again: only a majority of pre-votes may
        // raise the term (thesis §9.6), or an isolated node would still inflate its term.
        if (config.preVote()) {
            becomePreCandidate();
        } else {
            becomeCandidate();
        }
    }

    private void becomePreCandidate() {
        // Thesis §9.6: ask whether we could win before raising our term; a node cut off from the
        // majority keeps its term and cannot force the leader to step down when it returns.
        role = Role.PRE_CANDIDATE;
        leaderId = NONE;
        Arrays.fill(votes, (byte) 0);
        resetRandomizedElectionTimeout();
        electionElapsed = 0;
        if (tallyVotes() == Membership.VoteResult.WON) {
            becomeCandidate(); // we alone are a quorum
            return;
        }
        for (int p : peers) {
            if (membership.isVoter(p)) send(new RequestVote(id, p, currentTerm + 1, log.lastIndex(), log.lastTerm(), true));
        }
    }

    private void becomeCandidate() {
        becomeCandidate(false);
    }

    private void becomeCandidate(boolean leadershipTransfer) {
        if (!(role != Role.LEADER)) throw new InvariantViolation("leader " + id + " cannot become candidate");
        // §5.2: increment currentTerm, vote for self, reset the election timer, send RequestVote.
        role = Role.CANDIDATE;
        currentTerm++;
        votedFor = id;
        leaderId = NONE;
        Arrays.fill(votes, (byte) 0);
        resetRandomizedElectionTimeout();
        electionElapsed = 0;
        if (tallyVotes() == Membership.VoteResult.WON) {
            becomeLeader();
            return;
        }
        for (int p : peers) {
            if (membership.isVoter(p)) {
                send(new RequestVote(id, p, currentTerm, log.lastIndex(), log.lastTerm(), false, leadershipTransfer));
            }
        }
    }

    private void becomeFollower(long term, int leader) {
        if (!(term >= currentTerm)) throw new InvariantViolation("becomeFollower(" + term + ") below currentTerm " + currentTerm);
        boolean wasLeader = role == Role.LEADER;
        if (term > currentTerm) {
            currentTerm = term;
            votedFor = NONE; // a new term: no vote cast in it yet
        }
        // After adopting the term, so the refusals we send are not dropped as stale by followers
        // that already moved to it.
        if (wasLeader) abortPendingReads();
        role = Role.FOLLOWER;
        leaderId = leader;
        transferTarget = NONE;
        progress = new Progress[0];
        uncommittedBytes = 0;
        electionElapsed = 0;
        resetRandomizedElectionTimeout();
    }

    private void becomeLeader() {
        if (!(role == Role.CANDIDATE)) throw new InvariantViolation("only a candidate becomes leader, not a " + role);
        role = Role.LEADER;
        leaderId = id;
        electionElapsed = 0;
        heartbeatElapsed = 0;
        progress = new Progress[0];
        // Figure 2: nextIndex = leader last log index + 1, matchIndex = 0, for every follower.
        rebuildProgress();
        uncommittedBytes = 0;
        proposalSizes.clear();
        readSeq = 0;
        readRoundPending = false;
        // §8 / thesis §6.4: a new leader appends a no-op so that entries of earlier terms commit
        // (through this entry of its own term) and ReadIndex learns the latest commit.
        log.append(Entry.noop(log.lastIndex() + 1, currentTerm));
        leaderCheckIndex = log.lastIndex();
        leaderCheckTerm = currentTerm;
        maybeCommit(); // with no other voter, our own disk is the quorum (after advance)
    }

    private void onRequestVote(RequestVote m) {
        boolean upToDate = log.isUpToDate(m.lastLogIndex(), m.lastLogTerm());
        if (m.preVote()) {
            // Grant a Pre-Vote if we would grant the real vote in the term it names: that term is
            // newer than ours and the log is at least as up-to-date (§5.4.1). Terms equal to ours
            // mean the sender is behind us.
            boolean grant = m.term() > currentTerm && upToDate;
            send(new RequestVoteResponse(id, m.from(), grant ? m.term() : currentTerm, grant, true));
            return;
        }
        // Figure 2, RequestVote receiver: grant if votedFor is null or candidateId, and the
        // candidate's log is at least as up-to-date as ours (§5.4.1). One vote per term.
        boolean canVote = votedFor == NONE || votedFor == m.from()
                || (mutation == TestMutation.GRANT_SECOND_VOTE && role == Role.FOLLOWER);
        boolean grant = canVote && upToDate && role != Role.LEADER;
        if (grant) {
            votedFor = m.from();
            electionElapsed = 0; // §5.2: granting a vote resets the election timer
        }
        // Sent only after the vote is persisted: Ready puts the hard state before messages.
        send(new RequestVoteResponse(id, m.from(), currentTerm, grant, false));
    }

    private void onRequestVoteResponse(RequestVoteResponse m) {
        boolean expected = (role == Role.PRE_CANDIDATE && m.preVote()) || (role == Role.CANDIDATE && !m.preVote());
        if (!expected) return; // late answer from an earlier phase
        if (m.preVote() && m.voteGranted() && m.term() != currentTerm + 1) return; // from an older pre-vote round
        int slot = slotOf(m.from());
        if (slot < 0) return; // not a member of our configuration: its vote does not count
        if (votes[slot] == 0) votes[slot] = m.voteGranted() ? (byte) 1 : (byte) 2;
        switch (tallyVotes()) {
            case WON -> {
                if (role == Role.PRE_CANDIDATE) becomeCandidate();
                else becomeLeader();
            }
            case LOST -> becomeFollower(currentTerm, NONE);
            case PENDING -> { }
        }
    }

    /**
     * We are the leader, or heard from one less than a minimum election timeout ago (thesis §4.2.3,
     * §9.6). With leaseReads a node counts as having heard from a leader when it starts, because a
     * leader's lease may rest on the vote this node would have refused before it restarted.
     */
    private boolean heardFromLeaderRecently() {
        if (role == Role.LEADER) return true;
        boolean heardFromLeader = leaderId != NONE || leaseGuardFromStart;
        return role == Role.FOLLOWER && heardFromLeader && electionElapsed < config.electionTimeoutTicks();
    }

    // ---------------------------------------------------------------- replication (follower side)

    private void onAppendEntries(AppendEntries m) {
        if (role == Role.LEADER) {
            // Two leaders in one term would break Election Safety; only a corrupt peer sends this.
            droppedMessages++;
            return;
        }
        if (role != Role.FOLLOWER) {
            // §5.2: a candidate that hears from the leader of its term becomes a follower, then
            // runs the full follower checks below (the seed skipped them).
            becomeFollower(m.term(), m.from());
        }
        leaderId = m.from();
        electionElapsed = 0;
        leaseGuardFromStart = false;

        if (m.prevLogIndex() < log.commitIndex) {
            // Everything up to our commitIndex matches the leader already (Leader Completeness);
            // tell it so and let it send from there.
            send(new AppendEntriesResponse(id, m.from(), currentTerm, true, log.commitIndex, 0, 0, m.readSeq()));
            return;
        }
        if (!log.matchTerm(m.prevLogIndex(), m.prevLogTerm())) {
            // Figure 2 receiver step 2: reply false if the log has no entry at prevLogIndex whose
            // term matches prevLogTerm. Hint where our log stands so the leader can skip a term.
            long conflictTerm;
            long conflictIndex;
            if (m.prevLogIndex() > log.lastIndex()) {
                conflictTerm = 0;
                conflictIndex = log.lastIndex() + 1;
            } else {
                conflictTerm = log.term(m.prevLogIndex());
                conflictIndex = log.firstIndexOfTermAt(m.prevLogIndex());
            }
            send(new AppendEntriesResponse(id, m.from(), currentTerm, false, m.prevLogIndex(), conflictTerm,
                    conflictIndex, m.readSeq()));
            return;
        }
        // Steps 3-4: drop a conflicting suffix, append what is new.
        long written = log.appendAfterMatch(m.entries());
        if (written > 0) {
            if (written <= membershipIndex) {
                loadMembershipFromLog(); // the entry that set our configuration was truncated
            } else {
                for (Entry e : m.entries()) {
                    if (e.index() >= written && e.type() == EntryType.CONFIG) applyMembership(decodeMembership(e), e.index());
                }
            }
        }
        long lastNewIndex = m.prevLogIndex() + m.entries().size();
        // Step 5: commitIndex = min(leaderCommit, index of last new entry). The entries beyond
        // lastNewIndex were not checked against the leader's log, so they must not commit.
        if (mutation == TestMutation.FOLLOWER_COMMIT_WITHOUT_MIN) {
            log.commitTo(m.leaderCommit()); // the seed's bug: commitIndex := leaderCommit
        } else {
            log.commitTo(Math.min(m.leaderCommit(), lastNewIndex));
        }
        // Sent after our log write is durable (Ready ordering), so matchIndex is a promise.
        send(new AppendEntriesResponse(id, m.from(), currentTerm, true, lastNewIndex, 0, 0, m.readSeq()));
    }

    // ---------------------------------------------------------------- snapshots (follower side)

    /**
     * Figure 13, InstallSnapshot receiver: chunks arrive in offset order and are handed to the
     * driver to write; the last one is checked (size and CRC32C) and then the snapshot replaces the
     * log up to its index and the state machine. A lost or reordered chunk gets the expected offset
     * back, so the leader resumes there; offset 0 always starts a transfer over.
     */
    private void onInstallSnapshot(InstallSnapshot m) {
        if (role == Role.LEADER) {
            droppedMessages++;
            return;
        }
        if (role != Role.FOLLOWER) becomeFollower(m.term(), m.from());
        leaderId = m.from();
        electionElapsed = 0;
        leaseGuardFromStart = false;
        SnapshotMeta meta = m.meta();
        if (meta.index() <= log.commitIndex) {
            // We already have every entry it covers, committed: nothing to install (Figure 13 step 6
            // would keep our log anyway). The leader may count our log as matching up to there.
            receiving = null;
            send(new InstallSnapshotResponse(id, m.from(), currentTerm, meta.index(), meta.sizeBytes(), true, false));
            return;
        }
        if (m.offset() == 0) {
            receiving = meta;
            receivedBytes = 0;
            receivedCrc.reset();
        }
        if (!meta.equals(receiving) || m.offset() != receivedBytes) {
            long expected = meta.equals(receiving) ? receivedBytes : 0;
            send(new InstallSnapshotResponse(id, m.from(), currentTerm, meta.index(), expected, false, true));
            return;
        }
        receivedCrc.update(m.data());
        receivedBytes += m.data().length;
        snapshotChunks.add(new SnapshotChunk(meta, m.offset(), m.data()));
        if (!m.done()) {
            // Sent after the driver wrote the chunk (Ready ordering): the leader's window moves on.
            send(new InstallSnapshotResponse(id, m.from(), currentTerm, meta.index(), receivedBytes, false, false));
            return;
        }
        receiving = null;
        if (receivedBytes != meta.sizeBytes() || (int) receivedCrc.getValue() != meta.crc32c()) {
            // Damaged in transit or by a buggy peer: never install it; start the transfer over.
            droppedMessages++;
            send(new InstallSnapshotResponse(id, m.from(), currentTerm, meta.index(), 0, false, true));
            return;
        }
        log.restore(meta);
        loadMembershipFromLog();
        snapshotToInstall = meta;
        send(new InstallSnapshotResponse(id, m.from(), currentTerm, meta.index(), meta.sizeBytes(), true, false));
    }

    // ---------------------------------------------------------------- replication (leader side)

    private void onAppendEntriesResponse(AppendEntriesResponse m) {
        if (role != Role.LEADER) return;
        if (m.index() > log.lastIndex()) {
            droppedMessages++; // claims entries we never had: a corrupt peer
            return;
        }
        int slot = slotOf(m.from());
        if (slot < 0) return; // removed from our configuration
        Progress pr = progress[slot];
        pr.recentActive = true;
        if (m.readSeq() > pr.ackedReadSeq) {
            pr.ackedReadSeq = m.readSeq();
            if (readSeq - m.readSeq() < roundSentTick.length) {
                pr.ackedReadSeqSentTick = roundSentTick[(int) (m.readSeq() % roundSentTick.length)];
            }
            releaseConfirmedReads();
        }
        if (m.success()) {
            if (m.index() > pr.matchIndex) {
                pr.matchIndex = m.index();
                pr.ticksWithoutProgress = 0;
                if (pr.nextIndex <= pr.matchIndex) pr.nextIndex = pr.matchIndex + 1;
                pr.freeInflightTo(m.index());
                if (pr.state != Progress.State.REPLICATE) pr.becomeReplicate();
                maybeCommit();
                if (role == Role.LEADER && pr.id == transferTarget && pr.matchIndex == log.lastIndex()) {
                    send(new TimeoutNow(id, pr.id, currentTerm));
                }
            } else if (pr.state == Progress.State.PROBE) {
                // A successful probe at an index we already knew: the follower matches up to
                // matchIndex, so stream from there.
                pr.becomeReplicate();
            }
            return;
        }
        long rejected = m.index();
        if (pr.state == Progress.State.SNAPSHOT) return; // the snapshot will settle where the follower is
        if (rejected < pr.matchIndex || (pr.state == Progress.State.PROBE && rejected != pr.nextIndex - 1)) {
            return; // stale: about an index we have since learned matches, or an older probe
        }
        if (rejected == pr.matchIndex) return; // a heartbeat check at matchIndex can only fail if stale
        // Skip back using the follower's hint (§5.3): past the whole conflicting term if we do not
        // have it, else to the end of our entries of that term. Never past the rejected index, never
        // below matchIndex + 1, so each refusal strictly moves nextIndex back.
        long next;
        if (m.conflictTerm() == 0) {
            next = m.conflictIndex();
        } else {
            long ourLast = log.lastIndexOfTerm(m.conflictTerm(), rejected);
            next = ourLast > 0 ? ourLast + 1 : m.conflictIndex();
        }
        pr.becomeProbe();
        pr.nextIndex = Math.max(Math.min(next, rejected), pr.matchIndex + 1);
    }

    private void onInstallSnapshotResponse(InstallSnapshotResponse m) {
        if (role != Role.LEADER) return;
        int slot = slotOf(m.from());
        if (slot < 0) return; // removed from our configuration
        Progress pr = progress[slot];
        pr.recentActive = true;
        if (m.installed()) {
            if (m.snapshotIndex() > log.lastIndex()) {
                droppedMessages++; // claims a snapshot beyond our log: a corrupt peer
                return;
            }
            if (m.snapshotIndex() > pr.matchIndex) {
                pr.matchIndex = m.snapshotIndex();
                maybeCommit();
            }
            if (pr.state == Progress.State.SNAPSHOT) pr.becomeProbe(); // carry on with entries after it
            else if (pr.nextIndex <= pr.matchIndex) pr.nextIndex = pr.matchIndex + 1;
            return;
        }
        if (pr.state != Progress.State.SNAPSHOT || m.snapshotIndex() != pr.snapshot.index()) return; // stale
        if (m.mismatch()) {
            // Resume from where the follower is (it lost a chunk, restarted, or failed the checksum).
            pr.snapshotSentOffset = m.nextOffset();
            pr.snapshotAckedOffset = m.nextOffset();
            pr.snapshotDoneSent = false;
        } else if (m.nextOffset() > pr.snapshotAckedOffset) {
            pr.snapshotAckedOffset = m.nextOffset();
            pr.ticksWithoutProgress = 0;
        }
    }

    /** Sends what each follower is owed: new entries (pipelined), probes, commit updates. */
    private void sendAppends() {
        for (Progress pr : progress) {
            boolean sent = false;
            while (maySendEntries(pr)) {
                sendEntries(pr);
                sent = true;
            }
            if (!sent && pr.state == Progress.State.REPLICATE && pr.sentCommit < log.commitIndex) {
                // Tell the follower what committed, so it can apply and serve reads without waiting
                // for the next heartbeat (also after it moved from probing to streaming).
                sendHeartbeat(pr);
            }
        }
    }

    private boolean wouldSendAppends() {
        for (Progress pr : progress) {
            if (maySendEntries(pr)) return true;
            if (pr.state == Progress.State.REPLICATE && pr.sentCommit < log.commitIndex) return true;
        }
        return false;
    }

    private boolean maySendEntries(Progress pr) {
        return switch (pr.state) {
            case PROBE -> !pr.probeSent;
            case REPLICATE -> !pr.inflightFull() && pr.nextIndex <= log.lastIndex();
            case SNAPSHOT -> !pr.snapshotDoneSent
                    && pr.snapshotSentOffset - pr.snapshotAckedOffset
                            < (long) config.snapshotChunkBytes() * config.maxInflightSnapshotChunks();
        };
    }

    private void sendEntries(Progress pr) {
        if (pr.state == Progress.State.SNAPSHOT) {
            sendSnapshotChunk(pr);
            return;
        }
        long prev = pr.nextIndex - 1;
        long prevTerm = log.term(prev);
        if (prev < log.firstIndex() - 1 || prevTerm == RaftLog.TERM_UNKNOWN) {
            // Thesis §5.1: the entries this follower needs were compacted into a snapshot.
            SnapshotMeta snap = log.storageSnapshot();
            if (snap.isNone()) {
                throw new InvariantViolation("no term for prevLogIndex " + prev + " (follower " + pr.id
                        + ") and no snapshot");
            }
            pr.becomeSnapshot(snap);
            sendSnapshotChunk(pr);
            return;
        }
        List<Entry> entries = pr.nextIndex <= log.lastIndex()
                ? log.entries(pr.nextIndex, log.lastIndex() + 1, config.maxBytesPerAppend(), config.maxEntriesPerAppend())
                : List.of();
        send(new AppendEntries(id, pr.id, currentTerm, prev, prevTerm, entries, log.commitIndex, readSeq));
        pr.sentCommit = log.commitIndex;
        if (pr.state == Progress.State.PROBE) {
            pr.probeSent = true;
        } else {
            long last = prev + entries.size();
            pr.addInflight(last);
            pr.nextIndex = last + 1;
        }
    }

    private void sendSnapshotChunk(Progress pr) {
        byte[] data = log.snapshotChunk(pr.snapshot.index(), pr.snapshotSentOffset, config.snapshotChunkBytes());
        if (data == null) {
            // That snapshot was replaced by a newer one while we sent it: start over with the newest.
            pr.becomeSnapshot(log.storageSnapshot());
            data = log.snapshotChunk(pr.snapshot.index(), 0, config.snapshotChunkBytes());
            if (data == null) throw new InvariantViolation("storage lost its newest " + pr.snapshot);
        }
        long offset = pr.snapshotSentOffset;
        boolean done = offset + data.length >= pr.snapshot.sizeBytes();
        send(new InstallSnapshot(id, pr.id, currentTerm, pr.snapshot, offset, data, done));
        pr.snapshotSentOffset = offset + data.length;
        pr.snapshotDoneSent = done;
    }

    /**
     * A heartbeat checks the log at matchIndex, which is known to match, so it never causes a
     * spurious refusal while entries are in flight, and carries the commit index and readSeq.
     */
    private void sendHeartbeat(Progress pr) {
        long prev = pr.matchIndex;
        long prevTerm = log.term(prev);
        if (prevTerm == RaftLog.TERM_UNKNOWN) {
            prev = 0; // matchIndex was compacted away; index 0 always matches
            prevTerm = 0;
        }
        send(new AppendEntries(id, pr.id, currentTerm, prev, prevTerm, List.of(), log.commitIndex, readSeq));
        pr.sentCommit = log.commitIndex;
    }

    private void broadcastHeartbeat() {
        readRoundPending = false;
        readSeq++;
        roundSentTick[(int) (readSeq % roundSentTick.length)] = nowTicks;
        for (Progress pr : progress) {
            if (pr.state == Progress.State.PROBE) {
                pr.probeSent = false; // resend a probe each heartbeat interval: the last one may be lost
                sendEntries(pr);
            } else {
                sendHeartbeat(pr); // also keeps a follower receiving a snapshot from timing out
            }
        }
        releaseConfirmedReads(); // with no other voter, we alone confirm
    }

    /**
     * Figure 2, leaders: commit N if a majority has matchIndex >= N and log[N].term == currentTerm.
     * The term check is §5.4.2 (Figure 8): counting replicas of an older term's entry is not enough.
     */
    private void maybeCommit() {
        // The highest index a quorum holds; our own durable log counts like a follower's (§10.2.1).
        long own = mutation == TestMutation.COUNT_OWN_WRITE_BEFORE_DURABLE ? log.handedOffIndex() : log.stableIndex();
        long n = membership.quorumValue(v -> v == id ? own : peerProgress(v).matchIndex, scratch);
        if (n <= log.commitIndex || (log.term(n) != currentTerm && mutation != TestMutation.COMMIT_OLD_TERM_BY_COUNTING)) {
            finishMembershipChange();
            return;
        }
        log.commitTo(n);
        uncommittedBytes -= proposalSizes.removeTo(n);
        if (!readsAwaitingTermCommit.isEmpty() && committedInCurrentTerm()) {
            PendingRead[] waiting = readsAwaitingTermCommit.toArray(new PendingRead[0]);
            readsAwaitingTermCommit.clear();
            for (PendingRead r : waiting) registerRead(r.context(), r.requester());
        }
        finishMembershipChange();
    }

    private boolean committedInCurrentTerm() {
        return log.term(log.commitIndex) == currentTerm;
    }

    // ---------------------------------------------------------------- reads (thesis §6.4)

    private void registerRead(long context, int requester) {
        // Step 1: the leader must have committed an entry of its own term, so that its
        // commitIndex is at least that of any earlier leader.
        if (!committedInCurrentTerm()) {
            readsAwaitingTermCommit.add(new PendingRead(context, requester, 0, 0));
            return;
        }
        long readIndex = log.commitIndex;
        if (config.leaseReads() && leaseValid()) {
            // §6.4.1: within the lease no other leader can exist, so no heartbeat round is needed.
            completeRead(new PendingRead(context, requester, readIndex, 0));
            return;
        }
        // Step 2: confirm we are still the leader with a fresh heartbeat round acknowledged by a
        // majority; any round started after the read arrived will do: the next one, sent at the
        // latest when the driver asks for the next Ready (readRoundPending).
        readsAwaitingQuorum.add(new PendingRead(context, requester, readIndex, readSeq + 1));
        readRoundPending = true;
    }

    private void releaseConfirmedReads() {
        if (readsAwaitingQuorum.isEmpty()) return;
        // We acknowledge our own rounds.
        long confirmed = membership.quorumValue(v -> v == id ? Long.MAX_VALUE : peerProgress(v).ackedReadSeq, scratch);
        while (!readsAwaitingQuorum.isEmpty() && readsAwaitingQuorum.peekFirst().seq() <= confirmed) {
            completeRead(readsAwaitingQuorum.pollFirst());
        }
    }

    private boolean leaseValid() {
        long leaseStart = membership.quorumValue(v -> v == id ? nowTicks : peerProgress(v).ackedReadSeqSentTick, scratch);
        if (leaseStart == Long.MIN_VALUE) return false;
        return nowTicks < leaseStart + config.electionTimeoutTicks() - config.clockDriftTicks();
    }

    private void completeRead(PendingRead r) {
        if (r.requester() == id) {
            readStates.add(new ReadState(r.context(), r.readIndex()));
        } else {
            send(new ReadIndexResponse(id, r.requester(), currentTerm, r.context(), r.readIndex(), true));
        }
    }

    private void abortPendingReads() {
        for (ArrayDeque<PendingRead> q : List.of(readsAwaitingTermCommit, readsAwaitingQuorum)) {
            for (PendingRead r : q) {
                if (r.requester() == id) abortedReads.add(r.context());
                else send(new ReadIndexResponse(id, r.requester(), currentTerm, r.context(), 0, false));
            }
            q.clear();
        }
        readRoundPending = false;
    }

    private void onReadIndexRequest(ReadIndexRequest m) {
        if (role != Role.LEADER) {
            send(new ReadIndexResponse(id, m.from(), currentTerm, m.context(), 0, false));
            return;
        }
        registerRead(m.context(), m.from());
    }

    private void onReadIndexResponse(ReadIndexResponse m) {
        if (m.ok()) readStates.add(new ReadState(m.context(), m.readIndex()));
        else abortedReads.add(m.context());
    }

    // ---------------------------------------------------------------- membership (thesis chapter 4)

    /**
     * Proposes a new configuration. A change of at most one voter (or of learners only) is
     * appended as is (thesis §4.1); a larger one goes through joint consensus (thesis §4.3): first
     * a joint configuration needing majorities of both the old and the new voters, then, once that
     * commits, the new configuration, appended by whoever leads then. New voters must be learners
     * that are caught up (thesis §4.2.1). One change at a time, and only after this leader has
     * committed an entry of its term (the 2015 correction, raft-dev 2015-07-10).
     */
    public ProposeResult changeMembership(Membership target) {
        if (role != Role.LEADER) return new ProposeResult.NotLeader(leaderId);
        if (target.isJoint()) {
            return new ProposeResult.Rejected(ProposeResult.Reason.INVALID_MEMBERSHIP, "the target must not be joint");
        }
        if (transferTarget != NONE) {
            return new ProposeResult.Rejected(ProposeResult.Reason.TRANSFERRING, "leadership is moving to " + transferTarget);
        }
        if (membership.isJoint() || membershipIndex > log.commitIndex || !committedInCurrentTerm()) {
            return new ProposeResult.Rejected(ProposeResult.Reason.MEMBERSHIP_CHANGE_PENDING,
                    "configuration at " + membershipIndex + " (" + membership + ") not yet committed in term "
                            + currentTerm + " (commitIndex " + log.commitIndex + ")");
        }
        int[] oldVoters = membership.voters();
        int[] newVoters = target.voters();
        int changed = 0;
        for (int v : newVoters) {
            if (Arrays.binarySearch(oldVoters, v) >= 0) continue;
            changed++;
            if (!membership.isLearner(v)) {
                return new ProposeResult.Rejected(ProposeResult.Reason.INVALID_MEMBERSHIP,
                        "node " + v + " must join as a learner before it becomes a voter");
            }
            // Caught up: it holds the current configuration (so it is alive and has answered since
            // it was added, however short the log) and is at most maxLearnerLagEntries behind.
            long match = peerProgress(v).matchIndex;
            if (match < membershipIndex || match + config.maxLearnerLagEntries() < log.lastIndex()) {
                return new ProposeResult.Rejected(ProposeResult.Reason.NOT_CAUGHT_UP, "learner " + v + " has "
                        + match + " of " + log.lastIndex() + " entries (it needs the configuration at " + membershipIndex
                        + " and at most " + config.maxLearnerLagEntries() + " behind)");
            }
        }
        for (int v : oldVoters) if (Arrays.binarySearch(newVoters, v) < 0) changed++;
        Membership next;
        try {
            next = changed <= 1 || mutation == TestMutation.SKIP_JOINT_CONSENSUS ? target
                    : new Membership(newVoters, oldVoters, target.learners());
        } catch (IllegalArgumentException e) {
            return new ProposeResult.Rejected(ProposeResult.Reason.INVALID_MEMBERSHIP, e.getMessage());
        }
        Entry e = appendMembership(next);
        checkInvariants();
        return new ProposeResult.Accepted(e.index(), e.term());
    }

    private Entry appendMembership(Membership next) {
        Entry e = new Entry(log.lastIndex() + 1, currentTerm, EntryType.CONFIG, next.encode());
        log.append(e);
        applyMembership(next, e.index());
        return e;
    }

    /**
     * Hands leadership to {@code target} (thesis §3.10): the leader stops accepting proposals,
     * brings the target's log up to date, then tells it to start an election at once (TimeoutNow).
     * Gives up after an election timeout. Returns Accepted with the log index the target must reach.
     */
    public ProposeResult transferLeadership(int target) {
        if (role != Role.LEADER) return new ProposeResult.NotLeader(leaderId);
        if (target == id || !membership.isVoter(target) || slotOf(target) < 0) {
            return new ProposeResult.Rejected(ProposeResult.Reason.INVALID_MEMBERSHIP,
                    "node " + target + " is not another voter of " + membership);
        }
        transferTarget = target;
        transferElapsed = 0;
        if (peerProgress(target).matchIndex == log.lastIndex()) send(new TimeoutNow(id, target, currentTerm));
        checkInvariants();
        return new ProposeResult.Accepted(log.lastIndex(), currentTerm);
    }

    private void onTimeoutNow(TimeoutNow m) {
        // Only the leader of our term can ask, and only a voter can run; skip Pre-Vote: the leader
        // itself wants this election, and it stands aside for it.
        if (role == Role.LEADER || m.from() != leaderId || !membership.isVoter(id)) return;
        electionElapsed = 0;
        leaseGuardFromStart = false;
        becomeCandidate(true);
    }

    /** The node leadership is being transferred to, or NONE. */
    public int transferTarget() {
        return transferTarget;
    }

    /** Leader: leave a committed joint configuration (thesis §4.3); step down once removed (§4.2.2). */
    private void finishMembershipChange() {
        if (role != Role.LEADER || log.commitIndex < membershipIndex) return;
        if (membership.isJoint()) {
            appendMembership(membership.leaveJoint());
        } else if (!membership.isVoter(id)) {
            // Thesis §4.2.2: a leader that is not part of the committed configuration steps down.
            becomeFollower(currentTerm, NONE);
        }
    }

    /** A configuration entered our log (or a snapshot): it takes effect now (thesis §4.1). */
    private void applyMembership(Membership m, long index) {
        membership = m;
        membershipIndex = index;
        peers = Arrays.stream(m.members()).filter(v -> v != id).toArray();
        votes = new byte[peers.length];
        scratch = new long[Math.max(1, Math.max(m.voters().length, m.outgoing().length))];
        if (role == Role.LEADER) rebuildProgress();
    }

    /**
     * Voters campaign. So does a voter being removed while its removal is not yet committed: it
     * may hold the only copy of that configuration entry, and then no one else can win (the others
     * need its vote, and it refuses them as less up-to-date). Its election needs a majority of the
     * new configuration, which overlaps every majority of the old one (thesis §4.2.2: a server not
     * in its own latest configuration can lead until that configuration commits).
     */
    private boolean canCampaign() {
        if (membership.isVoter(id)) return true;
        return log.commitIndex < membershipIndex && membershipAt(membershipIndex - 1).isVoter(id);
    }

    /** Finds the latest configuration in the log, else the snapshot's, else the bootstrap one. */
    private void loadMembershipFromLog() {
        for (long i = log.lastIndex(); i >= log.firstIndex(); i--) {
            Entry e = log.entry(i);
            if (e.type() == EntryType.CONFIG) {
                applyMembership(decodeMembership(e), i);
                return;
            }
        }
        Membership snap = log.snapshotMembership();
        if (snap != null) applyMembership(snap, log.snapshotIndex());
        else applyMembership(Membership.of(config.voters()), 0);
    }

    /** The configuration in effect at {@code index} on this node (for checkers and status pages). */
    public Membership membershipAt(long index) {
        for (long i = Math.min(index, log.lastIndex()); i >= log.firstIndex(); i--) {
            Entry e = log.entry(i);
            if (e.type() == EntryType.CONFIG) return decodeMembership(e);
        }
        Membership snap = log.snapshotMembership();
        return snap != null && index >= log.snapshotIndex() ? snap : Membership.of(config.voters());
    }

    private static Membership decodeMembership(Entry e) {
        return Membership.decode(e.data());
    }

    private void rebuildProgress() {
        Progress[] next = new Progress[peers.length];
        for (int i = 0; i < peers.length; i++) {
            Progress old = null;
            for (Progress p : progress) if (p.id == peers[i]) old = p;
            if (old == null) {
                old = new Progress(peers[i], log.lastIndex() + 1, config.maxInflightAppends());
                old.recentActive = true; // a full timeout before check-quorum counts it out
            }
            next[i] = old;
        }
        progress = next;
    }

    private Progress peerProgress(int node) {
        return progress[slotOf(node)];
    }

    private boolean isRecentlyActive(int node) {
        int slot = slotOf(node);
        return slot >= 0 && progress[slot].recentActive;
    }

    private Membership.VoteResult tallyVotes() {
        return membership.voteResult(v -> {
            if (v == id) return 1; // we vote for ourselves
            int slot = slotOf(v);
            if (slot < 0) return 0;
            return votes[slot] == 1 ? 1 : votes[slot] == 2 ? -1 : 0;
        });
    }

    /** The latest configuration in this node's log (in effect, committed or not). */
    public Membership membership() {
        return membership;
    }

    /** Log index of the entry that set {@link #membership()}. */
    public long membershipIndex() {
        return membershipIndex;
    }

    // ---------------------------------------------------------------- helpers

    private void send(Message m) {
        outbox.add(m);
    }

    private int slotOf(int node) {
        for (int i = 0; i < peers.length; i++) if (peers[i] == node) return i;
        return -1;
    }

    private void resetRandomizedElectionTimeout() {
        // §5.2: randomized in [electionTimeout, 2 * electionTimeout) so split votes are rare.
        randomizedElectionTimeout = config.electionTimeoutTicks() + random.nextInt(config.electionTimeoutTicks());
    }

    /** The always-on invariants, checked after every input; a failure is a bug in Keel. */
    private void checkInvariants() {
        long last = log.lastIndex();
        if (log.lastApplied > log.commitIndex || log.commitIndex > last) {
            throw new InvariantViolation("node " + id + ": lastApplied " + log.lastApplied + " <= commitIndex "
                    + log.commitIndex + " <= lastIndex " + last + " does not hold");
        }
        if (log.stableIndex() > log.handedOffIndex() || log.handedOffIndex() > last) {
            throw new InvariantViolation("node " + id + ": stableIndex " + log.stableIndex() + " <= handedOffIndex "
                    + log.handedOffIndex() + " <= lastIndex " + last + " does not hold");
        }
        if (log.lastTerm() > currentTerm) {
            throw new InvariantViolation("node " + id + ": last log term " + log.lastTerm() + " > currentTerm " + currentTerm);
        }
        if ((role == Role.LEADER) != (leaderId == id)) {
            throw new InvariantViolation("node " + id + ": role " + role + " but leaderId " + leaderId);
        }
        if ((role == Role.LEADER || role == Role.CANDIDATE) && votedFor != id) {
            throw new InvariantViolation("node " + id + ": " + role + " in term " + currentTerm + " voted for " + votedFor);
        }
        if (role == Role.LEADER) {
            // Leader Append-Only: a leader never overwrites or deletes entries in its log.
            if (log.lastIndex() < leaderCheckIndex || log.term(leaderCheckIndex) != leaderCheckTerm) {
                throw new InvariantViolation("node " + id + ": leader of term " + currentTerm + " lost entry "
                        + leaderCheckIndex + "/" + leaderCheckTerm + " (lastIndex " + log.lastIndex() + ")");
            }
            leaderCheckIndex = log.lastIndex();
            leaderCheckTerm = log.lastTerm();
            for (Progress p : progress) {
                if (p.matchIndex >= p.nextIndex) {
                    throw new InvariantViolation("node " + id + ": " + p + " has matchIndex >= nextIndex");
                }
            }
        }
    }

    // ---------------------------------------------------------------- read-only views

    public int id() { return id; }
    public Role role() { return role; }
    public long currentTerm() { return currentTerm; }
    public int votedFor() { return votedFor; }
    public int leaderId() { return leaderId; }
    public long commitIndex() { return log.commitIndex; }
    public long lastApplied() { return log.lastApplied; }
    public long lastIndex() { return log.lastIndex(); }
    public long firstIndex() { return log.firstIndex(); }
    public RaftConfig config() { return config; }
    /** Messages dropped as malformed, misdirected or from non-members. */
    public long droppedMessages() { return droppedMessages; }
    /** Bytes of this leader's entries not yet committed (0 on followers). */
    public long uncommittedBytes() { return uncommittedBytes; }

    /**
     * Ticks since the election timer was last reset, for status pages and the explorer's timer
     * arcs. On a follower or candidate it counts towards {@link #randomizedElectionTimeoutTicks()};
     * on a leader it counts towards the check-quorum deadline, {@code config().electionTimeoutTicks()}.
     */
    public int electionElapsedTicks() { return electionElapsed; }

    /**
     * The election timeout drawn for this term (§5.2: randomized in [electionTimeoutTicks,
     * 2 * electionTimeoutTicks) so that split votes are rare); a follower campaigns once
     * {@link #electionElapsedTicks()} reaches it.
     */
    public int randomizedElectionTimeoutTicks() { return randomizedElectionTimeout; }

    /** Term of the entry at index, or -1 when this node has no such entry. */
    public long term(long index) {
        return log.term(index);
    }

    /** The entry at index (firstIndex() <= index <= lastIndex()). */
    public Entry entry(long index) {
        return log.entry(index);
    }

    public Status status() {
        return new Status(id, role, currentTerm, votedFor, leaderId, log.commitIndex, log.lastApplied,
                log.lastIndex(), log.lastTerm(), log.stableIndex());
    }

    /**
     * The leader's matchIndex for a follower (Figure 2), for replication-lag metrics; -1 when this
     * node is not the leader or the follower is not a member.
     */
    public long matchIndex(int follower) {
        if (role != Role.LEADER) return -1;
        int slot = slotOf(follower);
        return slot < 0 ? -1 : progress[slot].matchIndex;
    }

    /** The leader's progress for a follower, for tests and status pages; null if not leader. */
    public String progressOf(int follower) {
        if (role != Role.LEADER) return null;
        int slot = slotOf(follower);
        return slot < 0 ? null : progress[slot].toString();
    }
}
