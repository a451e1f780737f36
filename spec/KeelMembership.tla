--------------------------- MODULE KeelMembership ---------------------------
(***************************************************************************)
(* Keel's membership changes (RaftNode.changeMembership, thesis ch. 4):    *)
(* learners, single-voter changes appended as is, larger changes through  *)
(* joint consensus (Membership with outgoing voters), leaving the joint    *)
(* configuration once it commits (finishMembershipChange), and a leader    *)
(* that is not in the committed configuration stepping down.               *)
(*                                                                         *)
(* To keep the state space small this module abstracts messages away: a    *)
(* vote round and an AppendEntries round are single atomic actions (the    *)
(* message-level protocol is Keel.tla's).  What it checks is the quorum    *)
(* logic of configurations in effect as soon as they are in a log          *)
(* (thesis 4.1): no two disjoint quorums (QuorumOverlap), one leader per   *)
(* term, and committed entries never replaced.                             *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets, TLC

CONSTANTS
    Server,          \* every node that may ever be a member
    InitVoters,      \* the bootstrap configuration (RaftConfig.voters)
    Nil,
    MaxTerm, MaxLogLen, MaxChanges,
    MaxDepth,        \* TLC explores behaviours of at most this many steps (a CI bound)
    JointConsensus,  \* FALSE is the mutation (TestMutation.SKIP_JOINT_CONSENSUS)
    CommitCurrentTermOnly \* FALSE is the mutation: commit an older term's entry by counting

VARIABLES node, committed, elected, changes

vars == <<node, committed, elected, changes>>

\* Membership: voters, outgoing voters (non-empty only while joint), learners.
Cfg(v, o, l) == [voters |-> v, outgoing |-> o, learners |-> l]
NoCfg == Cfg({}, {}, {})
InitCfg == Cfg(InitVoters, {}, {})
IsJoint(c) == c.outgoing # {}

\* Membership.voteResult / quorumValue: a majority of the voters, and of the outgoing voters too.
Maj(S, V) == Cardinality(S \cap V) * 2 > Cardinality(V)
IsQuorum(c, S) == Maj(S, c.voters) /\ (~IsJoint(c) \/ Maj(S, c.outgoing))
IsVoter(c, i) == i \in c.voters \cup c.outgoing

\* Entries: a term and a configuration (NoCfg for a command or no-op).
Entry(t, c) == [term |-> t, cfg |-> c]
IsCfgEntry(e) == e.cfg # NoCfg

LastTerm(lg) == IF lg = <<>> THEN 0 ELSE lg[Len(lg)].term
\* The index of the latest configuration entry at or before k (0: the bootstrap one).
CfgIndexAt(lg, k) == LET ks == {j \in 1..k : IsCfgEntry(lg[j])} IN
                     IF ks = {} THEN 0 ELSE CHOOSE j \in ks : \A x \in ks : x <= j
CfgAt(lg, k) == IF CfgIndexAt(lg, k) = 0 THEN InitCfg ELSE lg[CfgIndexAt(lg, k)].cfg
\* RaftNode.membership / membershipIndex: the latest in the log, in effect committed or not.
CfgOf(i) == CfgAt(node[i].log, Len(node[i].log))
CfgIndexOf(i) == CfgIndexAt(node[i].log, Len(node[i].log))

Init ==
    /\ node = [i \in Server |-> [term |-> 0, vote |-> Nil, role |-> "F", log |-> <<>>, commit |-> 0,
                                 match |-> [j \in Server |-> 0]]]
    /\ committed = {}
    /\ elected = {}
    /\ changes = 0

UpToDate(lgC, lgV) ==
    LastTerm(lgC) > LastTerm(lgV) \/ (LastTerm(lgC) = LastTerm(lgV) /\ Len(lgC) >= Len(lgV))

\* RaftNode.canCampaign: a voter, or a voter being removed by a change not yet committed.
CanCampaign(i) ==
    IsVoter(CfgOf(i), i)
    \/ (node[i].commit < CfgIndexOf(i) /\ IsVoter(CfgAt(node[i].log, CfgIndexOf(i) - 1), i))

\* An election won in one step: i raises its term; the nodes in Q, which count for i's
\* configuration, had not voted in that term and find i's log up to date (onRequestVote).
Elect(i, Q) ==
    LET t == node[i].term + 1 IN
    /\ node[i].role # "L" /\ t <= MaxTerm /\ CanCampaign(i)
    /\ Len(node[i].log) < MaxLogLen
    /\ i \in Q /\ IsQuorum(CfgOf(i), Q)
    /\ \A j \in Q \ {i} : node[j].term < t /\ UpToDate(node[i].log, node[j].log)
    /\ node' = [j \in Server |->
                 IF j = i THEN [node[i] EXCEPT !.term = t, !.vote = i, !.role = "L",
                                               !.log = Append(node[i].log, Entry(t, NoCfg)),
                                               !.match = [k \in Server |-> 0]]
                 ELSE IF j \in Q THEN [node[j] EXCEPT !.term = t, !.vote = i, !.role = "F"]
                 ELSE node[j]]
    /\ elected' = elected \cup {<<t, i>>}
    /\ UNCHANGED changes

ClientRequest(i) ==
    /\ node[i].role = "L" /\ Len(node[i].log) < MaxLogLen
    /\ node' = [node EXCEPT ![i].log = Append(node[i].log, Entry(node[i].term, NoCfg))]
    /\ UNCHANGED <<elected, changes>>

\* RaftNode.changeMembership: one change at a time, after the leader committed in its term; a
\* new voter must already be a learner; more than one voter changed goes through joint consensus.
Reconfig(i, voters, learners) ==
    LET s == node[i]
        cur == CfgOf(i)
        changed == Cardinality((voters \ cur.voters) \cup (cur.voters \ voters))
        next == IF changed <= 1 \/ ~JointConsensus THEN Cfg(voters, {}, learners)
                ELSE Cfg(voters, cur.voters, learners)
    IN
    /\ s.role = "L" /\ changes < MaxChanges /\ Len(s.log) < MaxLogLen
    /\ ~IsJoint(cur) /\ CfgIndexOf(i) <= s.commit /\ s.commit > 0 /\ s.log[s.commit].term = s.term
    /\ voters # {} /\ voters \cap learners = {}
    /\ voters \ cur.voters \subseteq cur.learners
    /\ Cfg(voters, {}, learners) # cur
    /\ node' = [node EXCEPT ![i].log = Append(s.log, Entry(s.term, next))]
    /\ changes' = changes + 1
    /\ UNCHANGED elected

\* One AppendEntries round from leader i to j: j takes the leader's entries after a matching
\* prefix p up to k (onAppendEntries / RaftLog.appendAfterMatch), the leader learns matchIndex.
Replicate(i, j) ==
    LET s == node[i] IN
    /\ s.role = "L" /\ j # i /\ node[j].term <= s.term
    /\ \E p \in 0..Len(s.log), k \in 0..Len(s.log) :
         /\ p <= k /\ p <= Len(node[j].log)
         /\ IF p = 0 THEN TRUE ELSE node[j].log[p].term = s.log[p].term
         /\ k >= node[j].commit
         /\ LET kept == SubSeq(node[j].log, 1, p)
                theirs == SubSeq(node[j].log, p + 1, Len(node[j].log))
                ours == SubSeq(s.log, p + 1, k)
                \* keep what already matches: a stale round must not cut entries a later one added
                newLog == IF Len(theirs) >= Len(ours) /\ SubSeq(theirs, 1, Len(ours)) = ours
                          THEN node[j].log ELSE kept \o ours
            IN node' = [node EXCEPT ![j] = [node[j] EXCEPT !.term = s.term, !.role = "F",
                                              !.vote = IF s.term > node[j].term THEN Nil ELSE node[j].vote,
                                              !.log = newLog,
                                              !.commit = IF s.commit < k THEN
                                                            IF s.commit > node[j].commit THEN s.commit ELSE node[j].commit
                                                         ELSE IF k > node[j].commit THEN k ELSE node[j].commit],
                                    ![i].match[j] = IF k > s.match[j] THEN k ELSE s.match[j]]
    /\ UNCHANGED <<elected, changes>>

\* RaftNode.maybeCommit with the leader's configuration; then finishMembershipChange: leave a
\* committed joint configuration, or step down when no longer a voter.
AdvanceCommit(i) ==
    LET s == node[i]
        acked(n) == {i} \cup {j \in Server : s.match[j] >= n}
        ok == {n \in (s.commit + 1)..Len(s.log) :
                  IsQuorum(CfgOf(i), acked(n)) /\ (CommitCurrentTermOnly => s.log[n].term = s.term)}
    IN
    /\ s.role = "L" /\ ok # {}
    /\ LET n == CHOOSE x \in ok : \A y \in ok : y <= x
           cur == CfgOf(i)
           done == CfgIndexOf(i) <= n
       IN node' = [node EXCEPT ![i] =
                     IF done /\ IsJoint(cur) /\ Len(s.log) < MaxLogLen
                     THEN [s EXCEPT !.commit = n, !.log = Append(s.log, Entry(s.term, Cfg(cur.voters, {}, cur.learners)))]
                     ELSE IF done /\ ~IsVoter(cur, i) THEN [s EXCEPT !.commit = n, !.role = "F"]
                     ELSE [s EXCEPT !.commit = n]]
    /\ UNCHANGED <<elected, changes>>

\* Check-quorum, a crash, or a higher term seen: a leader becomes a follower.
StepDown(i) ==
    /\ node[i].role = "L"
    /\ node' = [node EXCEPT ![i].role = "F"]
    /\ UNCHANGED <<elected, changes>>

Next ==
    /\ \/ \E i \in Server : \E Q \in SUBSET Server : Elect(i, Q)
       \/ \E i \in Server : ClientRequest(i) \/ AdvanceCommit(i) \/ StepDown(i)
       \/ \E i \in Server : \E v \in SUBSET Server \ {{}} : \E l \in SUBSET (Server \ v) : Reconfig(i, v, l)
       \/ \E i, j \in Server : Replicate(i, j)
    /\ committed' = committed \cup
          {c \in UNION {{<<k, node'[i].log[k], node'[i].term>> : k \in 1..node'[i].commit} : i \in Server} :
             ~\E d \in committed : d[1] = c[1] /\ d[2] = c[2]}

Spec == Init /\ [][Next]_vars

Bounds == TLCGet("level") < MaxDepth

-----------------------------------------------------------------------------
\* No two disjoint quorums: each configuration entry's quorums meet those of the configuration
\* before it in the same log, so two configurations in effect on two nodes at once (one the
\* successor of the other, as one change at a time guarantees) cannot elect two leaders or
\* commit two different entries independently.
\* (Quorums are closed under supersets, so c2 has a quorum disjoint from Q1 iff Server \ Q1 is one.)
Overlap(c1, c2) ==
    \A Q1 \in SUBSET Server : IsQuorum(c1, Q1) => ~IsQuorum(c2, Server \ Q1)
QuorumOverlap ==
    \A i \in Server : \A k \in 1..Len(node[i].log) :
        IsCfgEntry(node[i].log[k]) => Overlap(CfgAt(node[i].log, k - 1), node[i].log[k].cfg)

ElectionSafety == \A a, b \in elected : a[1] = b[1] => a[2] = b[2]

\* An index is only ever committed with one entry (committed holds <<index, entry, term it was
\* committed in>>), and the leader of any later term holds it (Leader Completeness).
CommittedUnique == \A a, b \in committed : a[1] = b[1] => a[2] = b[2]
LeaderCompleteness ==
    \A c \in committed : \A i \in Server :
        (node[i].role = "L" /\ node[i].term > c[3]) => (c[1] <= Len(node[i].log) /\ node[i].log[c[1]] = c[2])

=============================================================================
