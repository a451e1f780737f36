// Keel Explorer, live mode: one server-sent-events stream per node (GET /v1/status/stream on the
// node's KV HTTP address), each pushing the node's status when it changes. Read-only, no polling.
import { drawRing } from './ring.js';

const $ = (id) => document.getElementById(id);
const streams = new Map(); // base URL -> {source, status, state}

export function startLive() {
  $('live-form').addEventListener('submit', (e) => {
    e.preventDefault();
    connect($('live-urls').value.split(/[\s,]+/).filter((u) => u));
  });
}

function connect(urls) {
  for (const s of streams.values()) s.source.close();
  streams.clear();
  for (const raw of urls) {
    const base = raw.replace(/\/+$/, '');
    const entry = { source: new EventSource(base + '/v1/status/stream'), status: null, state: 'connecting' };
    streams.set(base, entry);
    entry.source.addEventListener('status', (e) => {
      entry.status = JSON.parse(e.data);
      entry.state = 'open';
      render();
    });
    entry.source.onopen = () => { entry.state = 'open'; render(); };
    // EventSource reconnects by itself (the server sends a retry interval); show it meanwhile.
    entry.source.onerror = () => { entry.state = 'reconnecting'; render(); };
  }
  render();
}

function render() {
  const rows = [];
  const nodes = [];
  const changes = [];
  for (const [base, s] of streams) {
    const st = s.status;
    const tr = document.createElement('tr');
    tr.dataset.liveNodeId = st ? st.id : '';
    const followers = st && st.followers ? st.followers.map((f) => `n${f.id} ${f.matchIndex} · ${f.lag}`).join(', ') : '';
    const cells = [st ? 'n' + st.id : base, s.state, st ? st.role : '', st ? st.term : '', st && st.leader ? 'n' + st.leader : '',
      st ? st.commitIndex : '', st ? st.appliedIndex : '', followers];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.appendChild(td);
    }
    rows.push(tr);
    if (st) {
      nodes.push({ id: st.id, role: s.state === 'open' ? st.role : 'DOWN', term: st.term, commit: st.commitIndex,
        up: s.state === 'open', electionTimeoutTicks: 0 });
      for (const c of st.leaderChanges || []) changes.push({ ...c, seenBy: st.id });
    }
  }
  $('live-table').tBodies[0].replaceChildren(...rows);
  nodes.sort((a, b) => a.id - b.id);
  drawRing($('live-ring'), nodes, [], {
    nodeTitle: (n) => `n${n.id} ${n.role} term ${n.term} commit ${n.commit}`,
  });
  // Each node reports the leader changes it saw; list each (term, leader) once, newest first.
  const seen = new Map();
  for (const c of changes) {
    const k = c.term + '/' + c.leader;
    if (!seen.has(k) || seen.get(k).atMillis > c.atMillis) seen.set(k, c);
  }
  const list = [...seen.values()].sort((a, b) => b.term - a.term || b.atMillis - a.atMillis).slice(0, 30);
  $('live-changes').replaceChildren(...list.map((c) => {
    const li = document.createElement('li');
    li.textContent = `term ${c.term}: ${c.leader ? 'n' + c.leader + ' leads' : 'no leader'} (${new Date(c.atMillis).toLocaleTimeString()}, seen by n${c.seenBy})`;
    return li;
  }));
}
