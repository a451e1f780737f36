// Keel Explorer, simulator mode. The Java simulator holds the cluster; this page draws the state
// it returns and sends it actions, one line of the action language each (see /api/history).
import { drawRing, termColor, nodePosition, place } from './ring.js';
import { startLive } from './live.js';

const $ = (id) => document.getElementById(id);
let state = null;
let selectedNode = null;
let selectedMessage = null;
let playing = null; // the play timer, or null
let busy = false;   // one request at a time, so actions arrive in the order they were made

async function api(method, path, body) {
  const res = await fetch('/api/' + path, { method, body, headers: body ? { 'Content-Type': 'text/plain' } : {} });
  const json = await res.json();
  if (json.state) render(json.state);
  if (!res.ok) {
    showError(json.error || res.statusText);
    return null;
  }
  showError('');
  return json;
}

/** Sends one action line; answers the outcome, or null when it was refused (the error is shown). */
export async function act(line) {
  if (busy) return null;
  busy = true;
  try {
    const r = await api('POST', 'action', line);
    return r && r.outcome;
  } finally {
    busy = false;
  }
}

function showError(text) {
  $('error').textContent = text;
  if (text) $('status').textContent = 'refused: ' + text;
}

/** One event of play mode: deliver the oldest message in flight, else let every node tick. */
function nextEventLine() {
  if (!state) return 'tick';
  return state.messages.length > 0 ? `deliver ${state.messages[0].id}` : 'tick';
}

function setPlaying(on) {
  if (playing) clearInterval(playing);
  playing = null;
  if (on) {
    const perSecond = Number($('speed').value);
    playing = setInterval(async () => {
      if (busy) return;
      if (state && state.violation) { setPlaying(false); return; }
      if (state && state.mode === 'seed') {
        if (state.step >= state.historyLength) { setPlaying(false); return; }
        await seek(state.step + 1);
        return;
      }
      const done = await act(nextEventLine());
      if (done === null) setPlaying(false);
    }, 1000 / perSecond);
  }
  $('play').textContent = on ? '❚❚ Pause' : '▶ Play';
  $('play').classList.toggle('on', on);
}

function render(s) {
  state = s;
  const highlight = new Set(s.violation ? s.violation.nodes : []);
  if (selectedMessage !== null && !s.messages.some((m) => m.id === selectedMessage)) selectedMessage = null;
  drawRing($('ring'), s.nodes, s.messages, {
    selectedNode, selectedMessage, highlight,
    onMessage: (id) => { selectedMessage = id; render(state); },
    onNodeElement: wireNode,
    nodeTitle: (n) => nodeDetails(n),
  });
  renderLogs(s, highlight);
  renderPanels(s);
  renderHistory(s);
  $('events').replaceChildren(...s.log.slice(-40).reverse().map((line) => li(line)));
  const v = $('violation');
  v.hidden = !s.violation;
  if (s.violation) {
    // The checker's message starts with the property's name already.
    v.textContent = `Broken at step ${s.violation.step} (${s.violation.action}): ${s.violation.message}`
      + ' — stopped; step back (◀) or start a new cluster.';
    setPlaying(false);
  }
  const leader = s.nodes.filter((n) => n.role === 'LEADER').map((n) => 'n' + n.id + ' (term ' + n.term + ')');
  $('status').textContent = `step ${s.step} · ${s.messages.length} in flight · leader ${leader.join(', ') || 'none'}`;
}

function li(text) {
  const e = document.createElement('li');
  e.textContent = text;
  return e;
}

function nodeDetails(n) {
  const lines = [`n${n.id} ${n.role}  term ${n.term}  vote ${n.vote || '-'}  leader ${n.leader || '-'}`,
    `commit ${n.commit}  applied ${n.applied}  log ${n.log.length ? n.log[n.log.length - 1].index : 0}`];
  if (n.up) lines.push(`election timer ${n.electionElapsedTicks}/${n.electionTimeoutTicks} ticks`);
  if (n.matchIndex) lines.push('matchIndex ' + Object.entries(n.matchIndex).map(([f, m]) => `n${f}=${m}`).join(' '));
  if (n.kv && Object.keys(n.kv).length) lines.push('kv ' + Object.entries(n.kv).map(([k, v]) => `${k}=${v}`).join(' '));
  lines.push('reaches ' + n.reaches.map((r) => 'n' + r).join(','));
  return lines.join('\n');
}

function renderLogs(s, highlight) {
  const entriesHit = new Set(s.violation ? s.violation.entries : []);
  const rows = s.nodes.map((n) => {
    const row = document.createElement('div');
    row.className = 'log-row' + (highlight.has(n.id) ? ' violating' : '');
    row.dataset.logNodeId = n.id;
    const name = document.createElement('span');
    name.className = 'log-name';
    name.textContent = 'n' + n.id;
    row.appendChild(name);
    for (const e of n.log) {
      const cell = document.createElement('span');
      cell.className = 'entry' + (e.index <= n.commit ? ' committed' : '') + (e.type !== 'NORMAL' ? ' meta' : '')
        + (entriesHit.has(`${e.index}/${e.term}`) && highlight.has(n.id) ? ' violating' : '');
      cell.style.background = termColor(e.term);
      cell.textContent = e.term;
      cell.title = `index ${e.index}, term ${e.term}: ${e.text}` + (e.index <= n.commit ? ' (committed)' : '');
      row.appendChild(cell);
      if (e.index === n.commit) {
        const mark = document.createElement('span');
        mark.className = 'commit-mark';
        mark.title = 'commitIndex ' + n.commit;
        row.appendChild(mark);
      }
    }
    return row;
  });
  $('logs').replaceChildren(...rows);
}

function renderPanels(s) {
  const node = s.nodes.find((n) => n.id === selectedNode);
  $('node-panel').disabled = !node;
  $('node-selected').textContent = node ? 'n' + node.id : '(click one)';
  $('node-details').textContent = node ? nodeDetails(node) : '';
  if (node) {
    $('node-crash').disabled = !node.up;
    $('node-timeout').disabled = !node.up;
    $('node-restart').disabled = node.up;
  }
  const msg = s.messages.find((m) => m.id === selectedMessage);
  $('msg-panel').disabled = !msg;
  $('msg-selected').textContent = msg ? '#' + msg.id : '(click one)';
  $('msg-details').textContent = msg ? msg.text + (msg.partitioned ? '\n(partitioned: delivering drops it)' : '') : '';
  for (const sel of [$('client-node'), $('member-node')]) {
    if (sel.options.length !== s.nodes.length) {
      sel.replaceChildren(...s.nodes.map((n) => new Option('n' + n.id, n.id)));
    }
  }
  const m = s.members;
  $('members').textContent = m.voters ? `voters ${m.voters.join(',')}` + (m.outgoing.length ? ` (joint with ${m.outgoing.join(',')})` : '')
    + (m.learners.length ? ` learners ${m.learners.join(',')}` : '') + ` as n${m.seenBy} sees it` : '';
}

function renderHistory(s) {
  const scrub = $('scrub');
  scrub.max = s.historyLength;
  if (seekPending === null) scrub.value = s.step;
  const seedMode = s.mode === 'seed';
  $('step-label').textContent = seedMode ? `${s.header}: event ${s.step} of ${s.historyLength} (t=${s.time})`
    : `step ${s.step} of ${s.historyLength}`;
  $('seed-result').textContent = seedMode ? s.result : '';
  $('to-violation').hidden = !(seedMode && s.violationAtEvent >= 0);
  document.body.classList.toggle('seed-mode', seedMode);
  // A seed's run has no action history: show its last events instead.
  const text = seedMode ? s.log.join('\n') + '\n' : [s.header, ...s.history].join('\n') + '\n';
  // Leave the text alone while someone edits it.
  if (document.activeElement !== $('history')) $('history').value = text;
}

// Seeking replays from the start on the server, which takes a while deep into a long seed: while
// one seek is under way, only the latest position asked for is sent next.
let seekPending = null;
let seeking = false;
async function seek(k) {
  seekPending = k;
  if (seeking) return;
  seeking = true;
  try {
    while (seekPending !== null) {
      const target = seekPending;
      seekPending = null;
      await api('POST', 'seek?step=' + target);
    }
  } finally {
    seeking = false;
  }
}

// ---------------------------------------------------------------- node clicks and drags

/**
 * A node is clicked to select it, or dragged: out of the ring to stand alone, onto another node to
 * join its group, or to the centre to heal. The partition is sent as an action like any other.
 */
function wireNode(g, id) {
  let start = null;
  g.addEventListener('pointerdown', (e) => {
    start = { x: e.clientX, y: e.clientY, moved: false };
    g.setPointerCapture(e.pointerId);
  });
  g.addEventListener('pointermove', (e) => {
    if (!start) return;
    if (Math.hypot(e.clientX - start.x, e.clientY - start.y) > 6) start.moved = true;
    if (start.moved) {
      g.classList.add('dragging');
      const p = svgPoint(e);
      place(g, p.x, p.y);
    }
  });
  g.addEventListener('pointerup', async (e) => {
    if (!start) return;
    const moved = start.moved;
    start = null;
    g.classList.remove('dragging');
    if (!moved) {
      selectedNode = id;
      render(state);
      return;
    }
    const line = partitionAfterDrop(id, svgPoint(e));
    if (line) await act(line); else render(state);
  });
}

function svgPoint(e) {
  const svg = $('ring');
  const pt = svg.createSVGPoint();
  pt.x = e.clientX;
  pt.y = e.clientY;
  return pt.matrixTransform(svg.getScreenCTM().inverse());
}

function partitionAfterDrop(id, p) {
  const n = state.nodes.length;
  if (Math.hypot(p.x, p.y) < 70) return 'heal';
  // The groups now, from who reaches whom.
  const groups = [];
  for (const node of state.nodes) {
    const key = node.reaches.join(',');
    if (!groups.some((g) => g.join(',') === key)) groups.push([...node.reaches]);
  }
  const without = groups.map((g) => g.filter((x) => x !== id)).filter((g) => g.length > 0);
  const target = state.nodes.findIndex((node, i) => node.id !== id
    && Math.hypot(p.x - nodePosition(i, n).x, p.y - nodePosition(i, n).y) < 50);
  if (target >= 0) {
    const other = state.nodes[target].id;
    without.find((g) => g.includes(other)).push(id);
  } else {
    const home = nodePosition(state.nodes.findIndex((x) => x.id === id), n);
    if (Math.hypot(p.x - home.x, p.y - home.y) < 50) return null; // dropped where it was
    without.push([id]);
  }
  if (without.length === 1) return 'heal';
  return 'partition ' + without.map((g) => g.sort((a, b) => a - b).join(',')).join('|');
}

// ---------------------------------------------------------------- controls

function wire() {
  $('play').onclick = () => setPlaying(!playing);
  $('speed').onchange = () => { if (playing) setPlaying(true); };
  $('step').onclick = () => (state && state.mode === 'seed' ? seek(Math.min(state.step + 1, state.historyLength))
    : act(nextEventLine()));
  $('tick').onclick = () => act('tick');
  $('deliver-all').onclick = () => act('deliver all');
  $('heal').onclick = () => act('heal');
  $('partition').onclick = () => act('partition ' + $('partition-spec').value);
  $('node-timeout').onclick = () => act('timeout ' + selectedNode);
  $('node-crash').onclick = () => act('crash ' + selectedNode);
  $('node-restart').onclick = () => act('restart ' + selectedNode);
  $('node-transfer').onclick = () => act('transfer ' + selectedNode);
  $('msg-deliver').onclick = () => act('deliver ' + selectedMessage);
  $('msg-drop').onclick = () => act('drop ' + selectedMessage);
  $('msg-dup').onclick = () => act('dup ' + selectedMessage);
  $('put').onclick = () => act(`put ${$('put-key').value} ${$('put-value').value} @${$('client-node').value}`);
  $('read').onclick = () => act('read @' + $('client-node').value);
  $('member-add').onclick = () => act('add ' + $('member-node').value);
  $('member-remove').onclick = () => act('remove ' + $('member-node').value);
  $('action-form').onsubmit = async (e) => {
    e.preventDefault();
    if (await act($('action').value) !== null) $('action').value = '';
  };
  $('scrub').oninput = () => seek(Number($('scrub').value));
  $('back').onclick = () => state && state.step > 0 && seek(state.step - 1);
  $('forward').onclick = () => state && state.step < state.historyLength && seek(state.step + 1);
  $('load-seed').onclick = () => { setPlaying(false); api('POST', 'seed', $('seed-spec').value); };
  $('to-violation').onclick = () => state && seek(state.violationAtEvent);
  $('replay').onclick = () => { setPlaying(false); api('POST', 'replay', $('history').value); $('history').blur(); };
  $('reset').onclick = () => { setPlaying(false); selectedNode = null; api('POST', 'reset', $('header').value); };
  $('export').onclick = async () => {
    const text = await (await fetch('/api/history')).text();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    a.download = 'keel-history.txt';
    a.click();
  };
  $('ring').addEventListener('click', (e) => {
    if (e.target === $('ring')) { selectedNode = null; selectedMessage = null; render(state); }
  });
  $('tab-sim').onclick = () => showTab('sim');
  $('tab-live').onclick = () => showTab('live');
}

function showTab(which) {
  $('sim-view').hidden = which !== 'sim';
  $('live-view').hidden = which !== 'live';
  $('tab-sim').classList.toggle('active', which === 'sim');
  $('tab-live').classList.toggle('active', which === 'live');
  if (which === 'live') setPlaying(false);
}

wire();
startLive();
const params = new URLSearchParams(location.search);
// ?animate=0 turns the movement transitions off (the end-to-end tests click things that would move).
if (params.get('animate') === '0') document.body.classList.add('still');
if (params.get('live')) {
  $('live-urls').value = params.get('live');
  showTab('live');
  $('live-form').requestSubmit();
}
api('GET', 'state');
