// Draws a cluster as a ring of nodes with the messages in flight between them, into an <svg>.
// Elements are keyed (data-node-id, data-msg-id) and updated in place, so a node keeps its element
// from one state to the next and CSS can animate the moves.

const SVG = 'http://www.w3.org/2000/svg';
const RING_RADIUS = 200;
const NODE_RADIUS = 38;
const TIMER_RADIUS = 47;

export function termColor(term) {
  return term <= 0 ? '#bbb' : `hsl(${(term * 67) % 360} 60% 58%)`;
}

/** Centre of node i (0-based) of n, the first at the top, clockwise. */
export function nodePosition(i, n) {
  const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
  return { x: RING_RADIUS * Math.cos(a), y: RING_RADIUS * Math.sin(a) };
}

function el(tag, attrs = {}, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function layer(svg, name) {
  let g = svg.querySelector(`g.layer-${name}`);
  if (!g) g = el('g', { class: `layer-${name}` }, svg);
  return g;
}

/** An arc of the circle of radius r from the top, clockwise, over fraction f of the turn. */
function arcPath(r, f) {
  if (f <= 0) return '';
  if (f >= 1) f = 0.9999;
  const a = -Math.PI / 2 + 2 * Math.PI * f;
  const x = r * Math.cos(a), y = r * Math.sin(a);
  return `M 0 ${-r} A ${r} ${r} 0 ${f > 0.5 ? 1 : 0} 1 ${x.toFixed(2)} ${y.toFixed(2)}`;
}

/**
 * nodes: [{id, role, term, commit, electionElapsedTicks?, electionTimeoutTicks?, up, reaches?}]
 * messages: [{id, from, to, label, text, term, partitioned}]
 * opts: {selectedNode, selectedMessage, highlight: Set of node ids, onNode(id), onMessage(id)}
 */
export function drawRing(svg, nodes, messages, opts = {}) {
  const n = nodes.length;
  const pos = new Map(nodes.map((node, i) => [node.id, nodePosition(i, n)]));
  const links = layer(svg, 'links');
  const msgs = layer(svg, 'msgs');
  const nodeLayer = layer(svg, 'nodes');

  // Partition: a dashed red line between nodes that cannot reach each other.
  links.replaceChildren();
  for (const a of nodes) {
    for (const b of nodes) {
      if (a.id >= b.id) continue;
      const pa = pos.get(a.id), pb = pos.get(b.id);
      const cut = a.reaches && !a.reaches.includes(b.id);
      el('line', { x1: pa.x, y1: pa.y, x2: pb.x, y2: pb.y, class: cut ? 'link cut' : 'link' }, links);
    }
  }

  const seenNodes = new Set();
  for (const node of nodes) {
    seenNodes.add(String(node.id));
    let g = nodeLayer.querySelector(`g.node[data-node-id="${node.id}"]`);
    if (!g) {
      g = el('g', { class: 'node', 'data-node-id': node.id }, nodeLayer);
      el('circle', { class: 'timer-track', r: TIMER_RADIUS }, g);
      el('path', { class: 'timer' }, g);
      el('circle', { class: 'body', r: NODE_RADIUS }, g);
      el('text', { class: 'name', y: -8 }, g);
      el('text', { class: 'role', y: 8 }, g);
      el('text', { class: 'nums', y: 22 }, g);
      el('title', {}, g);
      if (opts.onNodeElement) opts.onNodeElement(g, node.id);
    }
    const p = pos.get(node.id);
    if (!g.classList.contains('dragging')) place(g, p.x, p.y);
    g.dataset.role = node.role;
    g.dataset.term = node.term;
    g.classList.toggle('selected', opts.selectedNode === node.id);
    g.classList.toggle('violating', !!(opts.highlight && opts.highlight.has(node.id)));
    g.querySelector('circle.body').setAttribute('fill', node.up === false ? '#eee' : termColor(node.term));
    g.querySelector('text.name').textContent = 'n' + node.id;
    g.querySelector('text.role').textContent = roleLabel(node.role);
    g.querySelector('text.nums').textContent = `t${node.term} · c${node.commit}`;
    const timer = g.querySelector('path.timer');
    if (node.up !== false && node.electionTimeoutTicks > 0) {
      const left = Math.max(0, 1 - node.electionElapsedTicks / node.electionTimeoutTicks);
      timer.setAttribute('d', arcPath(TIMER_RADIUS, left));
      timer.classList.toggle('leader', node.role === 'LEADER');
    } else {
      timer.setAttribute('d', '');
    }
    g.querySelector('title').textContent = opts.nodeTitle ? opts.nodeTitle(node) : `n${node.id} ${node.role}`;
  }
  for (const g of [...nodeLayer.querySelectorAll('g.node')]) {
    if (!seenNodes.has(g.dataset.nodeId)) g.remove();
  }

  // Messages sit on their link, on the sender's right (so both directions show), spread out
  // when several share a link; the oldest is nearest the receiver.
  const byLink = new Map();
  for (const m of messages) {
    const k = m.from + '>' + m.to;
    if (!byLink.has(k)) byLink.set(k, []);
    byLink.get(k).push(m);
  }
  const seenMsgs = new Set();
  for (const [, list] of byLink) {
    list.forEach((m, k) => {
      const a = pos.get(m.from), b = pos.get(m.to);
      if (!a || !b) return;
      const f = 0.72 - (0.44 * (k + 0.5)) / list.length;
      const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
      const x = a.x + dx * f - (dy / len) * 10, y = a.y + dy * f + (dx / len) * 10;
      seenMsgs.add(String(m.id));
      let g = msgs.querySelector(`g.msg[data-msg-id="${m.id}"]`);
      if (!g) {
        g = el('g', { class: 'msg', 'data-msg-id': m.id }, msgs);
        place(g, a.x, a.y);
        el('circle', { r: 11 }, g);
        el('text', { y: 4 }, g);
        el('title', {}, g);
        g.addEventListener('click', (e) => { e.stopPropagation(); opts.onMessage && opts.onMessage(m.id); });
        // Start at the sender, then move to its place: the CSS transition draws it leaving.
        requestAnimationFrame(() => requestAnimationFrame(() => place(g, x, y)));
      } else {
        place(g, x, y);
      }
      g.dataset.type = m.label;
      g.dataset.to = m.to;
      g.classList.toggle('selected', opts.selectedMessage === m.id);
      g.classList.toggle('partitioned', !!m.partitioned);
      g.querySelector('circle').setAttribute('fill', termColor(m.term));
      g.querySelector('text').textContent = shortLabel(m.label);
      g.querySelector('title').textContent = `#${m.id} ${m.text}`;
    });
  }
  for (const g of [...msgs.querySelectorAll('g.msg')]) {
    if (seenMsgs.has(g.dataset.msgId) || g.classList.contains('leaving')) continue;
    // Gone from the network: delivered (or dropped) at its receiver. Move it there, fading, then
    // remove it; with transitions off (body.still) it goes at once.
    const to = pos.get(Number(g.dataset.to));
    if (!to || document.body.classList.contains('still')) { g.remove(); continue; }
    g.classList.add('leaving');
    place(g, to.x, to.y);
    setTimeout(() => g.remove(), 400);
  }
}

/** Moves an element with a CSS transform, which (unlike the transform attribute) CSS can animate. */
export function place(g, x, y) {
  g.style.transform = `translate(${x.toFixed(1)}px, ${y.toFixed(1)}px)`;
}

function roleLabel(role) {
  return { FOLLOWER: 'follower', PRE_CANDIDATE: 'pre-cand.', CANDIDATE: 'candidate', LEADER: 'LEADER', DOWN: 'down' }[role] || role;
}

export function shortLabel(label) {
  return {
    PreVote: 'PV', PreVoteResponse: 'pv', RequestVote: 'RV', 'RequestVote(transfer)': 'RV', RequestVoteResponse: 'rv',
    AppendEntries: 'AE', AppendEntriesResponse: 'ae', ReadIndex: 'RI', ReadIndexResponse: 'ri',
    TimeoutNow: 'TN', InstallSnapshot: 'IS', InstallSnapshotResponse: 'is',
  }[label] || label.slice(0, 2);
}
