------------------------------ MODULE KeelTrace ------------------------------
(***************************************************************************)
(* Trace validation: is a simulator run (keel-sim TraceRecorder, NDJSON)   *)
(* a behaviour of Keel.tla?  Each trace event is explained by one action   *)
(* below, which reuses Keel.tla's step operators; the state the simulator  *)
(* logged after the event must equal the spec's.  TLC explores the (few)   *)
(* ways to explain each event; the trace is accepted when some behaviour   *)
(* explains all of it, i.e. the search reaches depth Len(Trace) + 1.  The  *)
(* harness (keel-spec TraceValidation) reports the first event at which    *)
(* every explanation failed.                                               *)
(*                                                                         *)
(* Unlike Keel.tla, the simulator persists a Ready some time after the     *)
(* steps that made it, and may crash in between, so here each node has an *)
(* in-memory state (node[i]) and a disk (disk[i]); a step's messages wait  *)
(* in outbox[i] until the persist event hands them to the network (bag).   *)
(*                                                                         *)
(* Messages a step computes (RV, RVR, AER, ISR, RIQ) must be sent exactly  *)
(* as the spec computes them.  Messages the leader composes when the       *)
(* driver asks for a Ready (AppendEntries, InstallSnapshot, TimeoutNow) or *)
(* answers to reads are checked for legality against the history: sent by *)
(* the leader of their term, carrying its log and only committed indexes. *)
(***************************************************************************)
EXTENDS Keel, TraceData

VARIABLES
    disk,     \* disk[i]: what node i's storage holds (term, vote, log, snapshot, commit)
    up,       \* up[i]: node i is running
    outbox,   \* outbox[i]: messages computed by steps, not yet persisted and sent
    bag,      \* the network: message -> copies in flight
    l         \* the index of the next trace event

tvars == <<vars, disk, up, outbox, bag, l>>

E == Trace[l]

Precise(m) == m.type \in {"RV", "RVR", "AER", "ISR", "RIQ"}

BagAdd(b, m, k) ==
    IF k = 0 THEN b
    ELSE IF m \in DOMAIN b THEN [b EXCEPT ![m] = @ + k]
    ELSE [x \in DOMAIN b \cup {m} |-> IF x = m THEN k ELSE b[x]]
BagRemove(b, m) ==
    IF b[m] = 1 THEN [x \in DOMAIN b \ {m} |-> b[x]] ELSE [b EXCEPT ![m] = @ - 1]
RECURSIVE BagAddAll(_, _, _)
BagAddAll(b, sent, k) ==
    IF k > Len(sent) THEN b ELSE BagAddAll(BagAdd(b, sent[k].m, sent[k].copies), sent, k + 1)

\* The state the simulator logged (TraceRecorder.state) against the spec's.
StateOK(s, o) ==
    /\ s.term = o.term /\ s.vote = o.vote /\ s.role = o.role /\ s.leader = o.leader
    /\ s.commit = o.commit /\ LastIdx(s) = o.last /\ LastTerm(s) = o.lastTerm /\ s.snapIdx = o.snap

\* Node i took a step with result r: its state is r.st, r.out waits for the next persist.
TakeStep(i, r) ==
    /\ StateOK(r.st, E.s)
    /\ node' = [node EXCEPT ![i] = r.st]
    /\ outbox' = [outbox EXCEPT ![i] = @ \cup {m \in r.out : Precise(m)}]

IsLeaderOf(t, i) == <<t, i>> \in elected

\* Legality of what a leader composes in RaftNode.ready() (sendAppends, broadcastHeartbeat,
\* sendSnapshotChunk, TimeoutNow) and of read answers.
AEContentOK(m) ==
    LET s == node[m.from] IN
    (s.role = "L" /\ s.term = m.term) =>
        /\ TermAt(s, m.prevIdx) = m.prevTerm
        /\ \A k \in 1..Len(m.entries) : TermAt(s, m.prevIdx + k) = m.entries[k]
        /\ m.commit <= s.commit
LooseOK(m) ==
    CASE m.type = "AE"  -> IsLeaderOf(m.term, m.from) /\ AEContentOK(m)
      [] m.type = "IS"  -> IsLeaderOf(m.term, m.from) /\ \E c \in committed : c[1] = m.idx /\ c[2] = m.sterm
      [] m.type = "TN"  -> IsLeaderOf(m.term, m.from)
      [] m.type = "RIR" -> ~m.ok \/ (IsLeaderOf(m.term, m.from) /\ m.readIndex <= MaxCommitted)
      [] OTHER          -> FALSE

-----------------------------------------------------------------------------
\* SimNode.start: RaftNode built from the disk.
TStart(i) ==
    /\ E.ev = "start" /\ ~up[i]
    /\ StateOK(Restarted(disk[i]), E.s)
    /\ node' = [node EXCEPT ![i] = Restarted(disk[i])]
    /\ up' = [up EXCEPT ![i] = TRUE]
    /\ outbox' = [outbox EXCEPT ![i] = {}]
    /\ UNCHANGED <<disk, bag>>

\* SimNode.crash: memory and unsent messages are gone.
TCrash(i) ==
    /\ E.ev = "crash" /\ up[i]
    /\ up' = [up EXCEPT ![i] = FALSE]
    /\ outbox' = [outbox EXCEPT ![i] = {}]
    /\ UNCHANGED <<node, disk, bag>>

\* RaftNode.tick: nothing the spec sees (timers, heartbeats), an election (campaign), or a
\* leader stepping down for want of a quorum (check-quorum).
TTick(i) ==
    /\ E.ev = "tick" /\ up[i]
    /\ LET s == node[i] IN
       \/ StateOK(s, E.s) /\ UNCHANGED <<node, outbox>>
       \/ s.role # "L" /\ TakeStep(i, Campaign(s, i))
       \/ CheckQuorum /\ s.role = "L" /\ TakeStep(i, R(BecomeFollower(s, s.term, Nil), {}))
    /\ UNCHANGED <<disk, up, bag>>

\* RaftNode.step of a message in flight.
TRecv(i) ==
    /\ E.ev = "recv" /\ up[i] /\ E.m.to = i
    /\ E.m \in DOMAIN bag
    /\ bag' = BagRemove(bag, E.m)
    /\ \E inLease \in LeaseChoices(node[i], E.m), chunkOk \in BOOLEAN :
          TakeStep(i, Step(node[i], i, E.m, inLease, chunkOk))
    /\ UNCHANGED <<disk, up>>

\* A message delivered to a crashed node.
TLost(i) ==
    /\ E.ev = "lost" /\ E.m \in DOMAIN bag
    /\ bag' = BagRemove(bag, E.m)
    /\ UNCHANGED <<node, disk, up, outbox>>

\* RaftNode.propose: a leader appends (or refuses: back-pressure, transfer in progress).
TPropose(i) ==
    /\ E.ev = "propose" /\ up[i]
    /\ LET s == node[i] IN
       \/ s.role = "L" /\ TakeStep(i, R([s EXCEPT !.log = Append(s.log, s.term)], {}))
       \/ StateOK(s, E.s) /\ UNCHANGED <<node, outbox>>
    /\ UNCHANGED <<disk, up, bag>>

\* RaftNode.readIndex: a follower that knows a leader asks it; a leader registers the read.
TRead(i) ==
    /\ E.ev = "read" /\ up[i]
    /\ LET s == node[i] IN
       TakeStep(i, R(s, IF s.role = "F" /\ s.leader # Nil THEN {RIQ(i, s.leader, s.term)} ELSE {}))
    /\ UNCHANGED <<disk, up, bag>>

\* Simulation.processReadys: one Ready persisted, its messages sent, RaftNode.advance.
\* With crashed, the node crashed right after persisting or sending (maybeCrashAt).
TPersist(i) ==
    /\ E.ev = "persist" /\ up[i]
    /\ LET s == node[i]
           sent == {E.sent[k].m : k \in 1..Len(E.sent)}
       IN /\ \A m \in sent : m.from = i /\ (Precise(m) \/ LooseOK(m))
          /\ IF E.crashed THEN {m \in sent : Precise(m)} \subseteq outbox[i]
             ELSE {m \in sent : Precise(m)} = outbox[i]
          /\ disk' = [disk EXCEPT ![i] = s]
          /\ node' = [node EXCEPT ![i] = Durable(s, i)]
          /\ IF E.crashed THEN TRUE ELSE StateOK(node'[i], E.s)
          /\ outbox' = [outbox EXCEPT ![i] = {}]
          /\ bag' = BagAddAll(bag, E.sent, 1)
    /\ UNCHANGED up

\* SimDisk.tornPersist: the term and vote and the first `kept` of the Ready's entries reached
\* the disk (none kept: the disk's log is as it was).  A crash follows.
TTorn(i) ==
    /\ E.ev = "torn" /\ up[i]
    /\ LET s == node[i] IN
       /\ E.first - 1 + E.kept <= LastIdx(s)
       /\ disk' = [disk EXCEPT ![i] = [s EXCEPT !.commit = disk[i].commit,
                                               !.log = IF E.kept = 0 THEN disk[i].log
                                                       ELSE Prefix(s, E.first - 1 + E.kept),
                                               !.snapIdx = IF E.kept = 0 THEN disk[i].snapIdx ELSE s.snapIdx,
                                               !.snapTerm = IF E.kept = 0 THEN disk[i].snapTerm ELSE s.snapTerm]]
    /\ UNCHANGED <<node, up, outbox, bag>>

\* Simulation.maybeSnapshot: compaction up to an applied index, on disk and in memory.
TCompact(i) ==
    /\ E.ev = "compact" /\ up[i]
    /\ E.index > node[i].snapIdx /\ E.index <= node[i].commit
    /\ TermAt(disk[i], E.index) = TermAt(node[i], E.index)
    /\ node' = [node EXCEPT ![i] = Compact(@, E.index)]
    /\ disk' = [disk EXCEPT ![i] = Compact(@, E.index)]
    /\ UNCHANGED <<up, outbox, bag>>

TraceInit ==
    /\ l = 1
    /\ node = [i \in Server |-> NodeInit]
    /\ disk = [i \in Server |-> NodeInit]
    /\ up = [i \in Server |-> FALSE]
    /\ outbox = [i \in Server |-> {}]
    /\ bag = <<>>
    /\ net = {} /\ committed = {} /\ elected = {} /\ restarts = 0 /\ reads = {}

TraceNext ==
    /\ l <= Len(Trace)
    /\ LET i == E.n IN
       TStart(i) \/ TCrash(i) \/ TTick(i) \/ TRecv(i) \/ TLost(i) \/ TPropose(i) \/ TRead(i)
       \/ TPersist(i) \/ TTorn(i) \/ TCompact(i)
    /\ l' = l + 1
    /\ committed' = committed \cup CommittedIn(node')
    /\ elected' = elected \cup LeadersIn(node')
    /\ UNCHANGED <<net, restarts, reads>>

TraceSpec == TraceInit /\ [][TraceNext]_tvars

\* The protocol's invariants hold along the trace too.
TraceSafety == ElectionSafety /\ CommittedUnique /\ StateMachineSafety
=============================================================================
