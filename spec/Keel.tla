-------------------------------- MODULE Keel --------------------------------
(***************************************************************************)
(* Keel's Raft protocol, as dev.keel.core.RaftNode implements it.          *)
(*                                                                         *)
(* Shape.  Each server's state is one record node[i]; every input of       *)
(* RaftNode (tick, step, propose, readIndex) is a pure operator from a     *)
(* state (and the input) to [st |-> new state, out |-> messages to send].  *)
(* Keel sends a Ready's messages only after persisting its hard state and  *)
(* entries, so in this module every action is followed by Durable (the     *)
(* driver's persist + RaftNode.advance), and only then are its messages    *)
(* put on the network.  KeelTrace.tla reuses the same operators with the   *)
(* persist step separated, because the simulator does persist later.      *)
(*                                                                         *)
(* Sections (each behind a constant so a config checks what it needs):    *)
(*   base       elections, AppendEntries with batches and conflict hints,  *)
(*              commit with the current-term rule, crash/restart with      *)
(*              durable state, message loss, duplication and reordering;   *)
(*   PreVote    thesis 9.6 (RaftNode.becomePreCandidate);                  *)
(*   CheckQuorum thesis 6.2 and 4.2.3 (tickLeader, the lease in step);     *)
(*   Snapshots  compaction and InstallSnapshot (onInstallSnapshot);        *)
(*   ReadIndex  thesis 6.4 (registerRead, releaseConfirmedReads);          *)
(*   Transfer   leadership transfer, TimeoutNow (thesis 3.10).             *)
(* Joint consensus and learners are in KeelMembership.tla.                 *)
(*                                                                         *)
(* The network is a set of messages in flight, received in any order       *)
(* (reordering); receiving consumes one unless Duplicates lets it stay to  *)
(* come again (duplication); DropMessage loses one (loss).                 *)
(***************************************************************************)
EXTENDS Naturals, Integers, Sequences, FiniteSets, TLC

CONSTANTS
    Server,        \* node ids (positive integers, as in Keel)
    Nil,           \* RaftNode.NONE = 0
    MaxTerm,       \* model bounds: terms, log length, messages in flight
    MaxLogLen,
    MaxMsgs,
    MaxBatch,      \* most entries in one AppendEntries (maxEntriesPerAppend)
    MaxRestarts,
    MaxReads,
    MaxDepth,      \* TLC explores behaviours of at most this many steps (a CI bound)
    CommitCurrentTermOnly, \* FALSE is the mutation: commit an older term's entry by counting
    ReadNeedsTermCommit,   \* FALSE is the mutation: serve reads before the leader committed in its term
    Duplicates,    \* a received message may stay in the network and come again
    Campaigners,   \* the servers whose election timer may fire (Server, except in directed searches)
    QuietTimeouts, \* directed searches: an election timer fires only when no message is in flight
    PreVote, CheckQuorum, Snapshots, ReadIndex, Transfer

VARIABLES
    node,       \* node[i]: the state of RaftNode i (see NodeInit)
    net,        \* the messages in flight
    committed,  \* history: <<index, term, T>> for every entry ever committed, T the term it was committed in
    elected,    \* history: every <<term, server>> that became leader
    restarts,   \* how many restarts so far (bound)
    reads       \* ReadIndex: completed reads [r |-> read index, see |-> must see]

vars == <<node, net, committed, elected, restarts, reads>>

Min(a, b) == IF a < b THEN a ELSE b
Max(a, b) == IF a > b THEN a ELSE b
MaxOf(S) == IF S = {} THEN 0 ELSE CHOOSE x \in S : \A y \in S : y <= x

Zero == [j \in Server |-> 0]
NServers == Cardinality(Server)
IsQuorum(S) == Cardinality(S \cap Server) * 2 > NServers

(***************************************************************************)
(* A node's state.  Fields mirror RaftNode's:                              *)
(*   term, vote      currentTerm, votedFor (persistent, Figure 2)          *)
(*   role            "F" follower, "PC" pre-candidate, "C" candidate,       *)
(*                   "L" leader (dev.keel.core.Role)                       *)
(*   leader          leaderId                                              *)
(*   log             the terms of the entries after the snapshot           *)
(*   snapIdx/Term    RaftLog.snapshotIndex / its term                      *)
(*   commit          RaftLog.commitIndex                                   *)
(*   stable          RaftLog.stableIndex(): last index known durable       *)
(*   granted/refused votes[] of the current (pre-)election                 *)
(*   match           Progress.matchIndex per follower (leaders only)       *)
(*   pending         ReadIndex: reads registered, awaiting a quorum        *)
(***************************************************************************)
NodeInit == [term |-> 0, vote |-> Nil, role |-> "F", leader |-> Nil,
             log |-> <<>>, snapIdx |-> 0, snapTerm |-> 0, commit |-> 0, stable |-> 0,
             granted |-> {}, refused |-> {}, match |-> Zero, pending |-> {}]

LastIdx(s) == s.snapIdx + Len(s.log)
\* RaftLog.term: 0 at index 0, -1 (TERM_UNKNOWN) when compacted away or beyond the log.
TermAt(s, k) ==
    IF k = 0 THEN 0
    ELSE IF k = s.snapIdx THEN s.snapTerm
    ELSE IF k > s.snapIdx /\ k <= LastIdx(s) THEN s.log[k - s.snapIdx]
    ELSE -1
LastTerm(s) == TermAt(s, LastIdx(s))
\* RaftLog.isUpToDate (5.4.1)
UpToDate(s, lastIdx, lastTerm) ==
    lastTerm > LastTerm(s) \/ (lastTerm = LastTerm(s) /\ lastIdx >= LastIdx(s))
\* Entries from index lo to hi, as terms.
Slice(s, lo, hi) == IF lo > hi THEN <<>> ELSE [k \in 1..(hi - lo + 1) |-> TermAt(s, lo + k - 1)]
\* The log truncated after index k (k >= snapIdx).
Prefix(s, k) == SubSeq(s.log, 1, k - s.snapIdx)

\* Messages: one record shape per dev.keel.core.Message record (readSeq, contexts and
\* snapshot chunk offsets are left out: they change no state that Raft's safety rests on).
RV(f, t, tm, li, lt, pre, tr) == [type |-> "RV", from |-> f, to |-> t, term |-> tm, lastIdx |-> li,
                                 lastTerm |-> lt, pre |-> pre, transfer |-> tr]
RVR(f, t, tm, g, pre) == [type |-> "RVR", from |-> f, to |-> t, term |-> tm, granted |-> g, pre |-> pre]
AE(f, t, tm, pi, pt, es, c) == [type |-> "AE", from |-> f, to |-> t, term |-> tm, prevIdx |-> pi,
                               prevTerm |-> pt, entries |-> es, commit |-> c]
AER(f, t, tm, ok, idx, ct, ci) == [type |-> "AER", from |-> f, to |-> t, term |-> tm, success |-> ok,
                                  index |-> idx, cTerm |-> ct, cIndex |-> ci]
IS(f, t, tm, idx, st, done) == [type |-> "IS", from |-> f, to |-> t, term |-> tm, idx |-> idx,
                               sterm |-> st, done |-> done]
ISR(f, t, tm, idx, inst) == [type |-> "ISR", from |-> f, to |-> t, term |-> tm, idx |-> idx, installed |-> inst]
RIQ(f, t, tm) == [type |-> "RIQ", from |-> f, to |-> t, term |-> tm]
RIR(f, t, tm, ri, ok) == [type |-> "RIR", from |-> f, to |-> t, term |-> tm, readIndex |-> ri, ok |-> ok]
TN(f, t, tm) == [type |-> "TN", from |-> f, to |-> t, term |-> tm]

R(s, out) == [st |-> s, out |-> out]

(***************************************************************************)
(* Commit: RaftNode.maybeCommit.  The highest index a quorum holds, the    *)
(* leader's own durable log counting like a follower's (10.2.1); commit it *)
(* only if its entry is of the current term (5.4.2, Figure 8).             *)
(***************************************************************************)
\* Membership.quorumValue: the largest v that a quorum has reached.
QuorumValue(vals) ==
    MaxOf({v \in {vals[j] : j \in Server} : IsQuorum({j \in Server : vals[j] >= v})})

MaybeCommit(s, i) ==
    LET n == QuorumValue([j \in Server |-> IF j = i THEN s.stable ELSE s.match[j]])
    IN IF n <= s.commit \/ (CommitCurrentTermOnly /\ TermAt(s, n) # s.term) THEN s
       ELSE [s EXCEPT !.commit = n]

\* The driver persisted the Ready (Simulation.processReadys) and called RaftNode.advance.
Durable(s, i) ==
    LET s1 == [s EXCEPT !.stable = LastIdx(s)]
    IN IF s1.role = "L" THEN MaybeCommit(s1, i) ELSE s1

(***************************************************************************)
(* Elections.                                                              *)
(***************************************************************************)
\* Membership.voteResult over votes[] plus our own vote.
Tally(s, i) ==
    IF IsQuorum(s.granted \cup {i}) THEN "WON"
    ELSE IF ~IsQuorum(Server \ s.refused) THEN "LOST"
    ELSE "PENDING"

\* RaftNode.becomeFollower
BecomeFollower(s, t, ldr) ==
    [s EXCEPT !.term = t, !.vote = IF t > s.term THEN Nil ELSE s.vote, !.role = "F",
              !.leader = ldr, !.granted = {}, !.refused = {}, !.match = Zero, !.pending = {}]

\* RaftNode.becomeLeader: appends a no-op of its term so earlier entries commit through it.
BecomeLeader(s, i) ==
    MaybeCommit([s EXCEPT !.role = "L", !.leader = i, !.match = Zero, !.granted = {}, !.refused = {},
                          !.log = Append(s.log, s.term)], i)

\* RaftNode.becomeCandidate(leadershipTransfer)
BecomeCandidate(s, i, tr) ==
    LET s1 == [s EXCEPT !.role = "C", !.term = s.term + 1, !.vote = i, !.leader = Nil,
                        !.granted = {}, !.refused = {}]
    IN IF Tally(s1, i) = "WON" THEN R(BecomeLeader(s1, i), {})
       ELSE R(s1, {RV(i, j, s1.term, LastIdx(s1), LastTerm(s1), FALSE, tr) : j \in Server \ {i}})

\* RaftNode.becomePreCandidate: ask for votes in term+1 without raising our term.
BecomePreCandidate(s, i) ==
    LET s1 == [s EXCEPT !.role = "PC", !.leader = Nil, !.granted = {}, !.refused = {}]
    IN IF Tally(s1, i) = "WON" THEN BecomeCandidate(s1, i, FALSE)
       ELSE R(s1, {RV(i, j, s.term + 1, LastIdx(s), LastTerm(s), TRUE, FALSE) : j \in Server \ {i}})

\* RaftNode.campaign (from tick when the election timer fires)
Campaign(s, i) == IF PreVote THEN BecomePreCandidate(s, i) ELSE BecomeCandidate(s, i, FALSE)

\* RaftNode.onRequestVote
OnRequestVote(s, i, m) ==
    LET upToDate == UpToDate(s, m.lastIdx, m.lastTerm)
    IN IF m.pre
       THEN LET grant == m.term > s.term /\ upToDate
            IN R(s, {RVR(i, m.from, IF grant THEN m.term ELSE s.term, grant, TRUE)})
       ELSE LET grant == s.vote \in {Nil, m.from} /\ upToDate /\ s.role # "L"
            IN R(IF grant THEN [s EXCEPT !.vote = m.from] ELSE s,
                 {RVR(i, m.from, s.term, grant, FALSE)})

\* RaftNode.onRequestVoteResponse
OnRequestVoteResponse(s, i, m) ==
    LET expected == (s.role = "PC" /\ m.pre) \/ (s.role = "C" /\ ~m.pre)
    IN IF ~expected \/ (m.pre /\ m.granted /\ m.term # s.term + 1) THEN R(s, {})
       ELSE LET s1 == IF m.from \in s.granted \cup s.refused THEN s
                      ELSE IF m.granted THEN [s EXCEPT !.granted = s.granted \cup {m.from}]
                      ELSE [s EXCEPT !.refused = s.refused \cup {m.from}]
                v == Tally(s1, i)
            IN IF v = "WON" THEN (IF s1.role = "PC" THEN BecomeCandidate(s1, i, FALSE)
                                  ELSE R(BecomeLeader(s1, i), {}))
               ELSE IF v = "LOST" THEN R(BecomeFollower(s1, s1.term, Nil), {})
               ELSE R(s1, {})

(***************************************************************************)
(* Replication, follower side: RaftNode.onAppendEntries.                   *)
(***************************************************************************)
\* RaftLog.firstIndexOfTermAt: start of the run of entries of the term at k, not below commit.
RECURSIVE FirstOfTerm(_, _, _)
FirstOfTerm(s, k, t) ==
    IF k - 1 >= s.snapIdx + 1 /\ k - 1 > s.commit /\ TermAt(s, k - 1) = t THEN FirstOfTerm(s, k - 1, t) ELSE k

\* RaftLog.appendAfterMatch: skip entries we have, truncate at the first conflict, append the rest.
RECURSIVE FirstNew(_, _, _, _)
FirstNew(s, prev, es, k) ==
    IF k > Len(es) THEN 0
    ELSE IF TermAt(s, prev + k) = es[k] THEN FirstNew(s, prev, es, k + 1)
    ELSE k
AppendAfterMatch(s, prev, es) ==
    LET k == FirstNew(s, prev, es, 1)
    IN IF k = 0 THEN s
       ELSE [s EXCEPT !.log = Prefix(s, prev + k - 1) \o SubSeq(es, k, Len(es)),
                      !.stable = Min(s.stable, prev + k - 1)]

OnAppendEntries(s, i, m) ==
    IF s.role = "L" THEN R(s, {})   \* only a corrupt peer: dropped
    ELSE
    LET s0 == IF s.role # "F" THEN BecomeFollower(s, m.term, m.from) ELSE s
        s1 == [s0 EXCEPT !.leader = m.from]
    IN IF m.prevIdx < s1.commit
       THEN R(s1, {AER(i, m.from, s1.term, TRUE, s1.commit, 0, 0)})
       ELSE IF TermAt(s1, m.prevIdx) # m.prevTerm
       THEN IF m.prevIdx > LastIdx(s1)
            THEN R(s1, {AER(i, m.from, s1.term, FALSE, m.prevIdx, 0, LastIdx(s1) + 1)})
            ELSE R(s1, {AER(i, m.from, s1.term, FALSE, m.prevIdx, TermAt(s1, m.prevIdx),
                            FirstOfTerm(s1, m.prevIdx, TermAt(s1, m.prevIdx)))})
       ELSE LET s2 == AppendAfterMatch(s1, m.prevIdx, m.entries)
                lastNew == m.prevIdx + Len(m.entries)
            IN R([s2 EXCEPT !.commit = Max(s2.commit, Min(m.commit, lastNew))],
                 {AER(i, m.from, s2.term, TRUE, lastNew, 0, 0)})

(***************************************************************************)
(* Replication, leader side: RaftNode.onAppendEntriesResponse.  A refusal  *)
(* only moves Progress.nextIndex, which this spec does not keep: a leader  *)
(* may send any prevLogIndex (SendAppend), of which Keel's nextIndex       *)
(* choices, probes and heartbeats at matchIndex are special cases.         *)
(***************************************************************************)
OnAppendEntriesResponse(s, i, m) ==
    IF s.role # "L" \/ m.index > LastIdx(s) \/ ~m.success \/ m.index <= s.match[m.from] THEN R(s, {})
    ELSE R(MaybeCommit([s EXCEPT !.match[m.from] = m.index], i), {})

(***************************************************************************)
(* Snapshots (Snapshots section): RaftNode.onInstallSnapshot and           *)
(* RaftLog.restore.  Chunks are abstracted: a chunk that is not the last,  *)
(* or that arrives out of order (chunkOk = FALSE), is answered without     *)
(* installing; the last one installs.                                      *)
(***************************************************************************)
Restore(s, idx, t) ==
    IF TermAt(s, idx) = t
    THEN [s EXCEPT !.log = SubSeq(s.log, idx - s.snapIdx + 1, Len(s.log)), !.snapIdx = idx, !.snapTerm = t,
                   !.commit = idx, !.stable = Max(s.stable, idx)]
    ELSE [s EXCEPT !.log = <<>>, !.snapIdx = idx, !.snapTerm = t, !.commit = idx, !.stable = idx]

OnInstallSnapshot(s, i, m, chunkOk) ==
    IF s.role = "L" THEN R(s, {})
    ELSE
    LET s0 == IF s.role # "F" THEN BecomeFollower(s, m.term, m.from) ELSE s
        s1 == [s0 EXCEPT !.leader = m.from]
    IN IF m.idx <= s1.commit THEN R(s1, {ISR(i, m.from, s1.term, m.idx, TRUE)})
       ELSE IF ~m.done \/ ~chunkOk THEN R(s1, {ISR(i, m.from, s1.term, m.idx, FALSE)})
       ELSE R(Restore(s1, m.idx, m.sterm), {ISR(i, m.from, s1.term, m.idx, TRUE)})

\* RaftNode.onInstallSnapshotResponse
OnInstallSnapshotResponse(s, i, m) ==
    IF s.role # "L" \/ ~m.installed \/ m.idx > LastIdx(s) \/ m.idx <= s.match[m.from] THEN R(s, {})
    ELSE R(MaybeCommit([s EXCEPT !.match[m.from] = m.idx], i), {})

\* Compaction (Simulation.maybeSnapshot -> SimDisk.compact): the log up to an applied index k.
Compact(s, k) ==
    [s EXCEPT !.log = SubSeq(s.log, k - s.snapIdx + 1, Len(s.log)), !.snapIdx = k, !.snapTerm = TermAt(s, k)]

(***************************************************************************)
(* ReadIndex (ReadIndex section): RaftNode.onReadIndexRequest.  A leader   *)
(* registers the read (registerRead); a follower or candidate refuses.     *)
(***************************************************************************)
CommittedInCurrentTerm(s) == TermAt(s, s.commit) = s.term

OnReadIndexRequest(s, i, m) ==
    IF s.role # "L" THEN R(s, {RIR(i, m.from, s.term, 0, FALSE)})
    ELSE R(s, {})   \* registered; answered later by LeaderRead/ConfirmRead (loosely in traces)

\* RaftNode.onTimeoutNow: only the leader we follow can ask; skip Pre-Vote.
OnTimeoutNow(s, i, m) ==
    IF s.role = "L" \/ m.from # s.leader THEN R(s, {}) ELSE BecomeCandidate(s, i, TRUE)

(***************************************************************************)
(* RaftNode.step: term checks first, then the handler.  inLease is whether *)
(* the node has heard from a leader within an election timeout            *)
(* (heardFromLeaderRecently); time is not modelled, so it is a choice,     *)
(* restricted by LeaseChoices to the cases where Keel can be in lease.     *)
(***************************************************************************)
Dispatch(s, i, m, chunkOk) ==
    CASE m.type = "RV"  -> OnRequestVote(s, i, m)
      [] m.type = "RVR" -> OnRequestVoteResponse(s, i, m)
      [] m.type = "AE"  -> OnAppendEntries(s, i, m)
      [] m.type = "AER" -> OnAppendEntriesResponse(s, i, m)
      [] m.type = "IS"  -> OnInstallSnapshot(s, i, m, chunkOk)
      [] m.type = "ISR" -> OnInstallSnapshotResponse(s, i, m)
      [] m.type = "RIQ" -> OnReadIndexRequest(s, i, m)
      [] m.type = "RIR" -> R(s, {})
      [] m.type = "TN"  -> OnTimeoutNow(s, i, m)

LeaseChoices(s, m) ==
    IF m.type # "RV" \/ m.term <= s.term \/ ~(m.pre \/ CheckQuorum) THEN {FALSE}
    ELSE IF s.role = "L" THEN {TRUE}
    ELSE IF s.role = "F" THEN BOOLEAN
    ELSE {FALSE}

Step(s, i, m, inLease, chunkOk) ==
    IF m.term > s.term THEN
        IF m.type = "RV" THEN
            IF inLease /\ ~m.transfer THEN R(s, {RVR(i, m.from, s.term, FALSE, m.pre)})
            ELSE OnRequestVote(IF m.pre THEN s ELSE BecomeFollower(s, m.term, Nil), i, m)
        ELSE IF m.type = "RVR" /\ m.pre /\ m.granted THEN Dispatch(s, i, m, chunkOk)
        ELSE Dispatch(BecomeFollower(s, m.term, IF m.type \in {"AE", "IS"} THEN m.from ELSE Nil), i, m, chunkOk)
    ELSE IF m.term < s.term THEN
        \* A stale sender: requests get our term back, responses are dropped.
        CASE m.type = "RV"  -> R(s, {RVR(i, m.from, s.term, FALSE, m.pre)})
          [] m.type = "AE"  -> R(s, {AER(i, m.from, s.term, FALSE, m.prevIdx, 0, 0)})
          [] m.type = "RIQ" -> R(s, {RIR(i, m.from, s.term, 0, FALSE)})
          [] m.type = "IS"  -> R(s, {ISR(i, m.from, s.term, m.idx, FALSE)})
          [] OTHER          -> R(s, {})
    ELSE Dispatch(s, i, m, chunkOk)

\* RaftNode(config, storage): a restarted node has its durable state and nothing else.
Restarted(d) ==
    [NodeInit EXCEPT !.term = d.term, !.vote = d.vote, !.log = d.log, !.snapIdx = d.snapIdx,
                     !.snapTerm = d.snapTerm, !.commit = Max(Min(d.commit, d.snapIdx + Len(d.log)), d.snapIdx),
                     !.stable = d.snapIdx + Len(d.log)]

(***************************************************************************)
(* History: what the invariants look at.                                   *)
(***************************************************************************)
\* Entries committed on some node in nd that the history does not hold yet, with the term of the
\* node that counted them first (a leader: followers learn commits from leaders).
CommittedIn(nd) ==
    LET now == UNION {{<<k, TermAt(nd[i], k), nd[i].term>> : k \in Max(nd[i].snapIdx, 1)..nd[i].commit} : i \in Server}
    IN {c \in now : ~\E d \in committed : d[1] = c[1] /\ d[2] = c[2]}
LeadersIn(nd) == {<<nd[i].term, i>> : i \in {j \in Server : nd[j].role = "L"}}
MaxCommitted == MaxOf({c[1] : c \in committed})

-----------------------------------------------------------------------------
(***************************************************************************)
(* The model-checking specification.                                       *)
(***************************************************************************)
Init ==
    /\ node = [i \in Server |-> NodeInit]
    /\ net = {}
    /\ committed = {}
    /\ elected = {}
    /\ restarts = 0
    /\ reads = {}

\* Node i takes a step with result r, persists (Durable) and sends r.out; `left` is the
\* network without what the step consumed.
Apply(i, r, left) ==
    /\ node' = [node EXCEPT ![i] = Durable(r.st, i)]
    /\ net' = left \cup r.out

\* tick: the election timer fires (RaftNode.tick -> campaign).
Timeout(i) ==
    /\ i \in Campaigners
    /\ QuietTimeouts => net = {}
    /\ node[i].role # "L"
    /\ node[i].term < MaxTerm
    /\ Apply(i, Campaign(node[i], i), net)
    /\ UNCHANGED <<restarts, reads>>

\* step: a message is received (and with Duplicates may stay to be received again).
Receive(m) ==
    LET i == m.to IN
    /\ \E inLease \in LeaseChoices(node[i], m), keep \in IF Duplicates THEN BOOLEAN ELSE {FALSE} :
           Apply(i, Step(node[i], i, m, inLease, TRUE), IF keep THEN net ELSE net \ {m})
    /\ UNCHANGED <<restarts, reads>>

\* propose: a leader appends a client command (RaftNode.propose).
ClientRequest(i) ==
    /\ node[i].role = "L"
    /\ LastIdx(node[i]) < MaxLogLen
    /\ Apply(i, R([node[i] EXCEPT !.log = Append(node[i].log, node[i].term)], {}), net)
    /\ UNCHANGED <<restarts, reads>>

\* A leader sends AppendEntries (sendEntries, sendHeartbeat, broadcastHeartbeat): any
\* prevLogIndex it still has a term for, and up to MaxBatch entries after it.
SendAppend(i, j) ==
    LET s == node[i] IN
    /\ s.role = "L" /\ j # i
    /\ \E prev \in s.snapIdx..LastIdx(s) :
       \E n \in 0..Min(MaxBatch, LastIdx(s) - prev) :
          net' = net \cup {AE(i, j, s.term, prev, TermAt(s, prev), Slice(s, prev + 1, prev + n), s.commit)}
    /\ UNCHANGED <<node, restarts, reads>>

\* sendEntries when the follower's next entry was compacted: the leader's snapshot (one message here).
SendSnapshot(i, j) ==
    LET s == node[i] IN
    /\ Snapshots /\ s.role = "L" /\ j # i /\ s.snapIdx > 0
    /\ net' = net \cup {IS(i, j, s.term, s.snapIdx, s.snapTerm, TRUE)}
    /\ UNCHANGED <<node, restarts, reads>>

\* Simulation.maybeSnapshot: compact the log up to an applied (so committed) index.
CompactLog(i) ==
    /\ Snapshots
    /\ \E k \in (node[i].snapIdx + 1)..node[i].commit :
          node' = [node EXCEPT ![i] = Compact(node[i], k)]
    /\ UNCHANGED <<net, restarts, reads>>

\* tickLeader with checkQuorum: a leader that did not hear from a quorum steps down.
StepDown(i) ==
    /\ CheckQuorum /\ node[i].role = "L"
    /\ node' = [node EXCEPT ![i] = BecomeFollower(node[i], node[i].term, Nil)]
    /\ UNCHANGED <<net, restarts, reads>>

\* transferLeadership: the leader tells an up-to-date voter to campaign now.
SendTimeoutNow(i, j) ==
    /\ Transfer /\ node[i].role = "L" /\ j # i /\ node[i].match[j] = LastIdx(node[i])
    /\ net' = net \cup {TN(i, j, node[i].term)}
    /\ UNCHANGED <<node, restarts, reads>>

\* A crash and restart: volatile state is lost; Keel made term, vote, log and commit durable
\* before any message that depends on them was sent.
Restart(i) ==
    /\ restarts < MaxRestarts
    /\ node' = [node EXCEPT ![i] = Restarted(node[i])]
    /\ restarts' = restarts + 1
    /\ UNCHANGED <<net, reads>>

DropMessage(m) ==
    /\ net' = net \ {m}
    /\ UNCHANGED <<node, restarts, reads>>

(***************************************************************************)
(* ReadIndex (thesis 6.4).  registerRead: a leader that has committed an   *)
(* entry of its term takes commitIndex as the read index; the read must    *)
(* see every write committed before it started (see = MaxCommitted).  A    *)
(* heartbeat round acknowledged by a quorum in the leader's term confirms  *)
(* it (AckRead = a follower answering that round; releaseConfirmedReads).  *)
(***************************************************************************)
LeaderRead(i) ==
    LET s == node[i] IN
    /\ ReadIndex /\ s.role = "L" /\ Cardinality(reads) + Cardinality(s.pending) < MaxReads
    /\ (ReadNeedsTermCommit => CommittedInCurrentTerm(s))
    /\ node' = [node EXCEPT ![i].pending = s.pending \cup {[r |-> s.commit, see |-> MaxCommitted, acks |-> {i}]}]
    /\ UNCHANGED <<net, restarts, reads>>

AckRead(i, j) ==
    /\ ReadIndex /\ node[i].role = "L" /\ node[j].term = node[i].term /\ node[j].leader = i
    /\ \E p \in node[i].pending :
          /\ j \notin p.acks
          /\ node' = [node EXCEPT ![i].pending = (node[i].pending \ {p}) \cup {[p EXCEPT !.acks = p.acks \cup {j}]}]
    /\ UNCHANGED <<net, restarts, reads>>

ConfirmRead(i) ==
    /\ ReadIndex /\ node[i].role = "L"
    /\ \E p \in node[i].pending :
          /\ IsQuorum(p.acks)
          /\ node' = [node EXCEPT ![i].pending = node[i].pending \ {p}]
          /\ reads' = reads \cup {[r |-> p.r, see |-> p.see]}
    /\ UNCHANGED <<net, restarts>>

Actions ==
    \/ \E i \in Server : Timeout(i) \/ ClientRequest(i) \/ CompactLog(i) \/ StepDown(i) \/ Restart(i)
                         \/ LeaderRead(i) \/ ConfirmRead(i)
    \/ \E i, j \in Server : SendAppend(i, j) \/ SendSnapshot(i, j) \/ SendTimeoutNow(i, j) \/ AckRead(i, j)
    \/ \E m \in net : Receive(m) \/ DropMessage(m)

Next ==
    /\ Actions
    /\ committed' = committed \cup CommittedIn(node')
    /\ elected' = elected \cup LeadersIn(node')

Spec == Init /\ [][Next]_vars

\* Servers are interchangeable: configs with model-value servers use this as SYMMETRY.
Perms == Permutations(Server)

\* Bounds for TLC (used as CONSTRAINT).
Bounds ==
    /\ TLCGet("level") < MaxDepth
    /\ Cardinality(net) <= MaxMsgs
    /\ \A i \in Server : node[i].term <= MaxTerm /\ LastIdx(node[i]) <= MaxLogLen

-----------------------------------------------------------------------------
(***************************************************************************)
(* Invariants.                                                             *)
(***************************************************************************)
TypeOK ==
    /\ \A i \in Server : node[i].role \in {"F", "PC", "C", "L"}
                         /\ node[i].commit <= LastIdx(node[i])
                         /\ node[i].stable <= LastIdx(node[i])
                         /\ LastTerm(node[i]) <= node[i].term

\* Election Safety: at most one leader per term, ever.
ElectionSafety == \A a, b \in elected : a[1] = b[1] => a[2] = b[2]

\* Log Matching: two logs with an entry of the same index and term agree on everything before.
Known(s, k) == TermAt(s, k) >= 0
LogMatching ==
    \A i, j \in Server : \A k \in 1..Min(LastIdx(node[i]), LastIdx(node[j])) :
        (Known(node[i], k) /\ Known(node[j], k) /\ TermAt(node[i], k) = TermAt(node[j], k)) =>
            \A l \in 1..k : (Known(node[i], l) /\ Known(node[j], l)) => TermAt(node[i], l) = TermAt(node[j], l)

\* Leader Completeness: the leader of any term after the one an entry was committed in holds
\* that entry (an entry at or below its snapshot is in the snapshot).
LeaderCompleteness ==
    \A c \in committed : \A i \in Server :
        (node[i].role = "L" /\ node[i].term > c[3]) =>
            (c[1] <= node[i].snapIdx \/ TermAt(node[i], c[1]) = c[2])

\* State Machine Safety: no two nodes commit different entries at one index, and an
\* index, once committed, is never committed with another term (CommittedUnique).
StateMachineSafety ==
    \A i, j \in Server : \A k \in 1..Min(node[i].commit, node[j].commit) :
        (Known(node[i], k) /\ Known(node[j], k)) => TermAt(node[i], k) = TermAt(node[j], k)
CommittedUnique == \A a, b \in committed : a[1] = b[1] => a[2] = b[2]

\* Committed entries are never lost: a quorum still holds each one (in its log or snapshot).
CommittedNeverLost ==
    \A c \in committed : IsQuorum({j \in Server : c[1] <= node[j].snapIdx \/ TermAt(node[j], c[1]) = c[2]})

\* ReadIndex: a read index is never behind a write committed before the read started.
ReadIndexSafety == \A rd \in reads : rd.r >= rd.see

Safety ==
    /\ TypeOK /\ ElectionSafety /\ LogMatching /\ LeaderCompleteness
    /\ StateMachineSafety /\ CommittedUnique /\ CommittedNeverLost /\ ReadIndexSafety
=============================================================================
