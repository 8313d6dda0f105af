// DMconnect web client: one WebSocket to /ws speaking the plain chat protocol.
// Every server line is shown with textContent, never parsed as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const KEEPALIVE_MS = 30000;
const STORE_KEY = 'dmconnect.login';
const SYSTEM_WORDS = new Set(['Error', 'Usage', 'Servers', 'Capabilities', 'Ignore list', 'Subscriptions list']);

const st = {
  ws: null, open: false, creds: null, remember: false, loggedIn: false,
  room: null, wantRoom: null, rooms: [], members: [], caps: [], ignored: new Set(),
  online: new Map(), view: { kind: 'room', name: null }, logs: new Map(), unread: new Map(),
  pendingPm: [], quiet: { members: 0, status: 0, ignore: 0, caps: 0 }, retry: 0, timer: null,
  keepalive: null, afterLogin: null,
};

// ---- connection ----

function setStatus(s) { $('status').textContent = s; $('status').className = s; }

function wsUrl() { return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws'; }

function connect() {
  clearTimeout(st.timer);
  const ws = new WebSocket(wsUrl());
  st.ws = ws;
  ws.onopen = () => {
    st.open = true;
    st.retry = 0;
    if (st.creds) st.creds.sent = false;
    else setStatus('connected');
    clearInterval(st.keepalive);
    st.keepalive = setInterval(() => send('/'), KEEPALIVE_MS);
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data !== 'string') return;
    for (const line of ev.data.split('\n')) onLine(line);
  };
  ws.onclose = () => {
    if (st.ws !== ws) return;
    st.open = false;
    st.loggedIn = false;
    st.room = null;
    clearInterval(st.keepalive);
    if (st.creds) {
      setStatus('reconnecting');
      const delay = Math.min(15000, 500 * 2 ** st.retry) * (0.8 + Math.random() * 0.4);
      st.retry = Math.min(st.retry + 1, 6);
      st.timer = setTimeout(connect, delay);
    } else {
      setStatus('disconnected');
      st.timer = setTimeout(connect, 2000);
    }
  };
}

function send(text) {
  if (!st.ws || !st.open) { system('Not connected; try again in a moment.', 'error'); return false; }
  st.ws.send(text);
  return true;
}

// Switching rooms means a new session: a session stays in one room until it ends.
function switchRoom(name) {
  st.wantRoom = name;
  if (!st.room) { send('/join_server ' + name); return; }
  const old = st.ws;
  st.ws = null;
  old.close();
  st.open = false;
  st.loggedIn = false;
  st.room = null;
  setStatus('reconnecting');
  connect();
}

// ---- server lines ----

function onLine(line) {
  if (line === '') return;
  if (line === '*Ping*' || line === '*Ping!*') return;
  if (line.startsWith('Enter command (/login /register):')) { onGreeting(); return; }
  if (!st.loggedIn) { onPreLogin(line); return; }
  let m;
  if ((m = line.match(/^Available servers: (.*)$/)) || (m = line.match(/^Servers: (.*)$/))) {
    setRooms(m[1] ? m[1].split(', ') : []);
    if (line.startsWith('Available')) { afterLogin(); return; }
    return system(line);
  }
  if (line === 'Select a server using /join_server <server_name>.') return;
  if ((m = line.match(/^Joined server '(.*)' successfully\.$/))) return onJoined(m[1]);
  if ((m = line.match(/^Server '(.*)' created successfully\.$/))) {
    if (!st.rooms.includes(m[1])) setRooms(st.rooms.concat(m[1]));
    system(line);
    return switchRoom(m[1]);
  }
  if ((m = line.match(/^Members in '(.*)': (.*)$/))) {
    setMembers(m[2] ? m[2].split(', ') : []);
    if (st.quiet.members > 0) { st.quiet.members--; return; }
    return system(line);
  }
  if ((m = line.match(/^\*\*\* (\S+) has (joined|left) the server\.$/))) {
    addLine(roomKey(), line, 'notice');
    if (m[2] === 'joined') { if (!st.members.includes(m[1])) setMembers(st.members.concat(m[1])); }
    else setMembers(st.members.filter((x) => x !== m[1]));
    st.quiet.members++;
    send('/members');
    return;
  }
  if ((m = line.match(/^\*\*\* (\S+) (.*)$/))) return addLine(roomKey(), line, 'action', m[1]);
  if ((m = line.match(/^\(Private\) (\S+?): (.*)$/))) return onPm(m[1], m[1], m[2]);
  if ((m = line.match(/^Private message sent to (\S+)\.$/))) return pmResult(m[1], null);
  if ((m = line.match(/^Failed to send private message to (\S+)\.$/))) return pmResult(m[1], line);
  if (line === 'User does not exist.' || line === 'You cannot send private messages to yourself.') {
    if (st.pendingPm.length) return pmResult(st.pendingPm[0].to, line);
  }
  if ((m = line.match(/^Capabilities: (.*)\. Use \/CAPABILITY_NAME for help\.$/))) return setCaps(m[1].split(', '), line);
  if (line === 'No capabilities available.') return setCaps([], line);
  if ((m = line.match(/^(\S+) is (online|offline)\.$/))) {
    st.online.set(m[1], m[2] === 'online');
    renderPms();
    renderMembers();
    if (st.quiet.status > 0) { st.quiet.status--; return; }
    return system(line);
  }
  if ((m = line.match(/^(Subscribed to|Already subscribed to) (\S+)\.$/)) && st.quiet.status > 0) { st.quiet.status--; return; }
  if ((m = line.match(/^Ignore list: (.*)$/)) || line === 'Ignore list is empty.') {
    st.ignored = new Set(m ? m[1].split(', ') : []);
    renderMembers();
    if (st.quiet.ignore > 0) { st.quiet.ignore--; return; }
    return system(line);
  }
  if ((m = line.match(/^Ignoring (\S+)\.$/))) { st.ignored.add(m[1]); renderMembers(); return system(line); }
  if ((m = line.match(/^Stopped ignoring (\S+)\.$/))) { st.ignored.delete(m[1]); renderMembers(); return system(line); }
  if ((m = line.match(/^([^\s,:]+): (.*)$/)) && st.room && !SYSTEM_WORDS.has(m[1])) {
    return addLine(roomKey(), line, 'chat', m[1], m[2]);
  }
  if (line === 'Server is shutting down.') return system(line, 'error');
  system(line);
}

function onGreeting() {
  if (st.loggedIn) return;
  if (st.creds && !st.creds.sent) {
    st.creds.sent = true;
    st.ws.send('/login ' + st.creds.user + ' ' + st.creds.pass);
  }
}

function onPreLogin(line) {
  const msg = $('auth-msg');
  if (line === 'Login successful.') {
    st.loggedIn = true;
    if (st.remember) localStorage.setItem(STORE_KEY, JSON.stringify({ user: st.creds.user, pass: st.creds.pass }));
    showApp();
    return;
  }
  if (line === 'Registration successful. Please log in.') {
    msg.textContent = 'Account created; logging in…';
    st.creds.sent = false;
    return;
  }
  // Any refusal: show it and forget the credentials.
  msg.textContent = line;
  if (st.creds) { st.creds = null; localStorage.removeItem(STORE_KEY); setStatus('connected'); }
  showAuth();
}

function afterLogin() {
  st.quiet.caps++;
  send('/list_capabilities');
  const target = st.wantRoom && st.rooms.includes(st.wantRoom) ? st.wantRoom : st.rooms[0];
  if (target) { st.wantRoom = target; send('/join_server ' + target); } else setStatus('connected');
}

function onJoined(name) {
  st.room = name;
  st.wantRoom = name;
  setStatus('connected');
  if (st.view.kind === 'room') st.view.name = name;
  st.quiet.members++;
  send('/members');
  renderRooms();
  renderView();
}

function setCaps(list, line) {
  st.caps = list;
  $('attach').hidden = !list.includes('http_file_upload');
  if (list.includes('ignore')) { st.quiet.ignore++; send('/ignore-list'); }
  if (list.includes('status')) {
    for (const name of st.logs.keys()) {
      if (name.startsWith('@')) { st.quiet.status += 2; send('/status-sub-add ' + name.slice(1)); send('/status-check ' + name.slice(1)); }
    }
  }
  if (st.quiet.caps > 0) { st.quiet.caps--; return; }
  system(line);
}

// ---- conversations ----

function roomKey() { return '#' + (st.room || ''); }
function viewKey() { return st.view.kind === 'room' ? roomKey() : '@' + st.view.name; }

function addLine(key, text, kind, who, body) {
  if (!st.logs.has(key)) st.logs.set(key, []);
  const list = st.logs.get(key);
  list.push({ text, kind, who, body, at: new Date() });
  if (list.length > 1000) list.shift();
  if (key === viewKey()) appendLine(list[list.length - 1]);
  else if (key.startsWith('@')) { st.unread.set(key, (st.unread.get(key) || 0) + 1); renderPms(); }
}

function system(text, kind) { addLine(viewKey(), text, kind || 'system'); }

function onPm(peer, who, body) {
  const key = '@' + peer;
  const fresh = !st.logs.has(key);
  addLine(key, who + ': ' + body, 'chat pm', who, body);
  if (fresh) watchStatus(peer);
  renderPms();
}

function pmResult(to, error) {
  const i = st.pendingPm.findIndex((p) => p.to === to);
  const p = i >= 0 ? st.pendingPm.splice(i, 1)[0] : st.pendingPm.shift();
  if (!p) return error && system(error, 'error');
  if (error) addLine('@' + p.to, error, 'error');
  else addLine('@' + p.to, st.creds.user + ': ' + p.text, 'chat pm mine', st.creds.user, p.text);
}

function watchStatus(name) {
  if (!st.caps.includes('status')) return;
  st.quiet.status += 2;
  send('/status-sub-add ' + name);
  send('/status-check ' + name);
}

function openPm(name) {
  name = name.trim();
  if (!name || name === (st.creds && st.creds.user)) return;
  const key = '@' + name;
  if (!st.logs.has(key)) { st.logs.set(key, []); watchStatus(name); }
  show({ kind: 'pm', name });
}

function show(view) {
  st.view = view;
  if (view.kind === 'pm') st.unread.delete('@' + view.name);
  document.body.classList.remove('side-open', 'people-open');
  renderView();
  renderPms();
  renderRooms();
  $('message').focus();
}

// ---- rendering (DOM APIs and textContent only) ----

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;
const IMAGE_RE = /\.(png|jpe?g|gif|webp|bmp|avif)$/i;
const IMAGE_TYPES = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp', avif: 'image/avif' };

// Appends `text` to `parent`, turning http(s) URLs into links; returns image URLs found.
function linkify(parent, text) {
  const images = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url;
    try { url = new URL(m[0]); } catch (e) { continue; }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    parent.append(document.createTextNode(text.slice(last, m.index)));
    const a = el('a', null, m[0]);
    a.href = url.href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    parent.append(a);
    last = m.index + m[0].length;
    if (IMAGE_RE.test(url.pathname)) images.push(url);
  }
  parent.append(document.createTextNode(text.slice(last)));
  return images;
}

// Uploads of this server are fetched from the page's own origin (the CSP allows
// nothing else) and shown from a typed blob.
function preview(parent, url) {
  if (!url.pathname.startsWith('/file/') || (url.port || defaultPort(url)) !== (location.port || defaultPort(location))) return;
  const ext = url.pathname.split('.').pop().toLowerCase();
  fetchRetry(location.origin + url.pathname)
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(r.statusText))))
    .then((b) => {
      const img = el('img', 'preview');
      img.alt = decodeURIComponent(url.pathname.split('/').pop());
      img.src = URL.createObjectURL(new Blob([b], { type: IMAGE_TYPES[ext] || 'image/png' }));
      parent.append(img);
    })
    .catch(() => {});
}

// A spare browser socket greeted as a chat client fails once; the retry gets a fresh one.
function fetchRetry(url, opts) {
  return fetch(url, opts).catch(() => fetch(url, opts));
}

function defaultPort(u) { return u.protocol === 'https:' ? '443' : '80'; }

function appendLine(item) {
  const log = $('log');
  const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const row = el('div', 'line ' + item.kind);
  const time = el('time', 'time', item.at.toTimeString().slice(0, 5));
  row.append(time, ' ');
  let images = [];
  if (item.kind.startsWith('chat') && item.who) {
    row.append(el('b', 'who', item.who + ':'), ' ');
    const body = el('span', 'text');
    images = linkify(body, item.body);
    row.append(body);
  } else {
    const body = el('span', 'text');
    images = linkify(body, item.text);
    row.append(body);
  }
  log.append(row);
  for (const u of images) preview(row, u);
  if (stick) log.scrollTop = log.scrollHeight;
}

function renderView() {
  const log = $('log');
  log.replaceChildren();
  for (const item of st.logs.get(viewKey()) || []) appendLine(item);
  log.scrollTop = log.scrollHeight;
  const title = st.view.kind === 'room' ? (st.room ? 'Room ' + st.room : 'No room') : 'Private: ' + st.view.name;
  $('view-title').textContent = title;
  document.title = title + ' – DMconnect';
  renderMembers();
}

function setRooms(list) { st.rooms = list; renderRooms(); }

function renderRooms() {
  const ul = $('rooms');
  ul.replaceChildren();
  for (const name of st.rooms) {
    const li = el('li');
    li.dataset.room = name;
    const b = el('button', 'link', name);
    b.type = 'button';
    if (name === st.room) { li.className = 'current'; if (st.view.kind === 'room') b.setAttribute('aria-current', 'page'); }
    b.onclick = () => { if (name === st.room) show({ kind: 'room', name }); else { st.view = { kind: 'room', name }; switchRoom(name); } };
    li.append(b);
    ul.append(li);
  }
}

function renderPms() {
  const ul = $('pms');
  ul.replaceChildren();
  for (const key of st.logs.keys()) {
    if (!key.startsWith('@')) continue;
    const name = key.slice(1);
    const li = el('li');
    li.dataset.user = name;
    const b = el('button', 'link');
    b.type = 'button';
    const dot = el('span', 'dot' + (st.online.has(name) ? (st.online.get(name) ? ' on' : ' off') : ''));
    b.append(dot, name);
    const n = st.unread.get(key);
    if (n) b.append(el('span', 'badge', String(n)));
    if (st.view.kind === 'pm' && st.view.name === name) li.className = 'current';
    b.onclick = () => show({ kind: 'pm', name });
    li.append(b);
    ul.append(li);
  }
}

function setMembers(list) { st.members = list; renderMembers(); }

function renderMembers() {
  const ul = $('members');
  ul.replaceChildren();
  const me = st.creds && st.creds.user;
  for (const name of st.members) {
    const li = el('li');
    li.dataset.user = name;
    li.append(el('span', 'dot on'), el('span', 'name', name + (name === me ? ' (you)' : '')));
    if (name !== me) {
      const pm = el('button', 'small', 'PM');
      pm.type = 'button';
      pm.setAttribute('aria-label', 'Private message to ' + name);
      pm.onclick = () => openPm(name);
      li.append(pm);
      if (st.caps.includes('ignore')) {
        const ig = st.ignored.has(name);
        const b = el('button', 'small', ig ? 'Unignore' : 'Ignore');
        b.type = 'button';
        b.onclick = () => send((ig ? '/ignore-del ' : '/ignore-add ') + name);
        li.append(b);
      }
    }
    ul.append(li);
  }
}

function showApp() {
  $('auth').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('toggle-members').hidden = false;
  $('me').textContent = st.creds.user;
  $('message').focus();
}

function showAuth() {
  $('auth').hidden = false;
  $('app').hidden = true;
  $('logout').hidden = true;
  $('toggle-members').hidden = true;
  $('me').textContent = '';
}

// ---- user actions ----

function startLogin(register) {
  const user = $('username').value.trim();
  const pass = $('password').value;
  if (!user || !pass) { $('auth-msg').textContent = 'Enter a name and a password.'; return; }
  if (/\s/.test(user)) { $('auth-msg').textContent = 'A name has no spaces.'; return; }
  st.remember = $('remember').checked;
  st.creds = { user, pass, sent: true };
  $('auth-msg').textContent = '';
  send(register ? '/register ' + user + ' ' + pass : '/login ' + user + ' ' + pass);
}

function onCompose(ev) {
  ev.preventDefault();
  const input = $('message');
  const text = input.value;
  if (!text.trim()) return;
  let out = text;
  if (text.startsWith('/me ')) out = '/act ' + text.slice(4);
  if (st.view.kind === 'pm' && !text.startsWith('/')) {
    out = '/pm ' + st.view.name + ' ' + text;
    st.pendingPm.push({ to: st.view.name, text });
  } else if (out.startsWith('/pm ')) {
    const parts = out.split(' ');
    if (parts.length >= 3) st.pendingPm.push({ to: parts[1], text: parts.slice(2).join(' ') });
  }
  if (send(out)) input.value = '';
}

function upload(file) {
  if (!file || !st.caps.includes('http_file_upload')) return;
  const form = new FormData();
  form.append('file', file, file.name);
  system('Uploading ' + file.name + '…');
  fetchRetry('/upload', { method: 'POST', body: form })
    .then((r) => r.json())
    .then((j) => {
      if (j.status !== 'ok') throw new Error(j.reason || 'upload failed');
      if (st.view.kind === 'pm') { st.pendingPm.push({ to: st.view.name, text: j.url }); send('/pm ' + st.view.name + ' ' + j.url); }
      else send(j.url);
    })
    .catch((e) => system('Upload failed: ' + e.message, 'error'));
}

function logout() {
  localStorage.removeItem(STORE_KEY);
  st.creds = null;
  st.wantRoom = null;
  st.logs.clear();
  st.unread.clear();
  st.members = [];
  showAuth();
  const old = st.ws;
  st.ws = null;
  st.open = false;
  st.loggedIn = false;
  st.room = null;
  if (old) old.close();
  setStatus('disconnected');
  connect();
}

function toggle(cls, button) {
  const on = document.body.classList.toggle(cls);
  $(button).setAttribute('aria-expanded', String(on));
}

function init() {
  $('auth-form').addEventListener('submit', (e) => { e.preventDefault(); startLogin(false); });
  $('register').onclick = () => startLogin(true);
  $('compose').addEventListener('submit', onCompose);
  $('create-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('room-name').value.trim();
    if (name && send('/create_server ' + name)) $('room-name').value = '';
  });
  $('pm-form').addEventListener('submit', (e) => { e.preventDefault(); openPm($('pm-name').value); $('pm-name').value = ''; });
  $('logout').onclick = logout;
  $('toggle-side').onclick = () => toggle('side-open', 'toggle-side');
  $('toggle-members').onclick = () => toggle('people-open', 'toggle-members');
  $('attach').onclick = () => $('file-input').click();
  $('file-input').onchange = (e) => { upload(e.target.files[0]); e.target.value = ''; };
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') document.body.classList.remove('side-open', 'people-open'); });
  let depth = 0;
  const drop = $('drop');
  const canDrop = (e) => st.loggedIn && st.caps.includes('http_file_upload') && e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  document.addEventListener('dragenter', (e) => { if (canDrop(e)) { depth++; drop.hidden = false; e.preventDefault(); } });
  document.addEventListener('dragover', (e) => { if (canDrop(e)) e.preventDefault(); });
  document.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; drop.hidden = true; } });
  document.addEventListener('drop', (e) => {
    depth = 0;
    drop.hidden = true;
    if (!canDrop(e)) return;
    e.preventDefault();
    for (const f of e.dataTransfer.files) upload(f);
  });
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || 'null');
    if (saved && saved.user && saved.pass) { st.creds = { user: saved.user, pass: saved.pass, sent: false }; st.remember = true; }
  } catch (e) { localStorage.removeItem(STORE_KEY); }
  setStatus('disconnected');
  connect();
}

init();
