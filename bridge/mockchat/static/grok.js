// The grok-2026 fixture page: a single-page app shaped like grok.com in autumn 2026.
//
// - a session check (GET /rest/user-settings); logged out -> accounts.<host>/sign-in on another origin
//   (`redirectMs` later: the shell, composer included, shows meanwhile);
// - the composer hydrates after load: a tiptap/ProseMirror editor (paragraphs) beside an empty hidden
//   textarea; Enter sends, Shift+Enter breaks the line; the send button exists only while there is
//   text (a voice button otherwise, a stop button while a reply streams); the model picker sits in
//   the same form and opens its menu on pointerdown;
// - history and replies come over the gateway WebSocket (/ws/mgw/); the URL becomes /c/<id>?rid=<reply>;
// - the transcript is virtualized: rows absolutely positioned by transforms, only those near the
//   viewport mounted, rows recycled for other turns as it scrolls (DOM order is not chat order), spare
//   rows parked hidden with stale content; `aria-busy` on the scroller while a reply streams;
// - errors such as the rate limit show as toasts; the composer keeps its text.
(() => {
  const data = JSON.parse(document.getElementById('app-data').textContent);
  const scroller = document.querySelector('[data-testid="chat-transcript-scroller"]');
  const canvas = scroller.querySelector('.virtual-canvas');
  const form = document.querySelector('form[data-composer]');
  const editorSlot = form.querySelector('.editor-slot');
  const sendSlot = form.querySelector('.send-slot');
  const statusSlot = document.querySelector('.status-slot');
  const toaster = document.querySelector('[data-sonner-toaster]');
  const picker = document.getElementById('model-select-trigger');
  const HYDRATE_MS = 60;
  const CONNECT_MS = 150;
  const TOAST_MS = 4000;

  let chatId = data.chatId;
  const turns = [];
  const byId = new Map();
  const streaming = new Set();
  const uid = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

  // --- the virtualized transcript ----------------------------------------------------------------
  const GAP = 16;
  const ESTIMATE = 120;
  const OVERSCAN = 160;
  const heights = new Map();
  const rows = [];
  let stick = true;
  let scheduled = false;

  const atBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 8;

  function newRow() {
    const el = document.createElement('div');
    el.className = 'plane-row';
    canvas.appendChild(el);
    const row = { el, id: null, version: -1, parked: true };
    rows.push(row);
    return row;
  }

  function fill(row, turn) {
    row.el.innerHTML = turn.html;
    row.el.dataset.planeRow = `gateway:${turn.status === 'streaming' ? turn.gateway : turn.id}`;
    Object.assign(row, { id: turn.id, version: turn.version, parked: false });
    row.el.style.visibility = '';
    row.el.removeAttribute('aria-hidden');
  }

  function park(row) {
    row.parked = true;
    row.el.style.visibility = 'hidden';
    row.el.setAttribute('aria-hidden', 'true');
    row.el.style.transform = 'translateY(-100000px)';
  }

  function layout() {
    scheduled = false;
    indicators();  // one render: the state flags change with the rows that show it
    for (let pass = 0; pass < 4; pass++) {
      const tops = [];
      let y = 0;
      for (const t of turns) {
        tops.push(y);
        y += (heights.get(t.id) ?? ESTIMATE) + GAP;
      }
      canvas.style.height = `${y}px`;
      if (stick) scroller.scrollTop = scroller.scrollHeight;
      const lo = scroller.scrollTop - OVERSCAN;
      const hi = scroller.scrollTop + scroller.clientHeight + OVERSCAN;
      const wanted = [];
      turns.forEach((t, i) => {
        if (tops[i] + (heights.get(t.id) ?? ESTIMATE) >= lo && tops[i] <= hi) wanted.push(i);
      });
      const wantedIds = new Set(wanted.map((i) => turns[i].id));
      const showing = new Map();
      const free = [];
      for (const row of rows) {
        if (!row.parked && wantedIds.has(row.id) && !showing.has(row.id)) showing.set(row.id, row);
        else free.push(row);
      }
      let changed = false;
      for (const i of wanted) {
        const turn = turns[i];
        let row = showing.get(turn.id);
        if (!row) row = free.shift() || newRow();
        if (row.id !== turn.id || row.version !== turn.version || row.parked) fill(row, turn);
        row.el.style.transform = `translateY(${tops[i]}px)`;
        const height = row.el.offsetHeight;
        if (heights.get(turn.id) !== height) {
          heights.set(turn.id, height);
          changed = true;
        }
      }
      for (const row of free) if (!row.parked) park(row);
      if (!changed) break;
    }
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => scheduled && layout());
    setTimeout(() => scheduled && layout(), 50);  // a page in the background gets no animation frames
  }

  scroller.addEventListener('scroll', () => {
    stick = atBottom();
    schedule();
  });

  function upsert(view) {
    let turn = byId.get(view.id);
    if (!turn) {
      turn = { id: view.id, version: 0, gateway: uid() };
      byId.set(view.id, turn);
      turns.push(turn);
    }
    Object.assign(turn, { role: view.role, status: view.status, markdown: view.markdown, html: view.html });
    turn.version += 1;
    if (view.status === 'streaming') streaming.add(view.id);
    else streaming.delete(view.id);
    schedule();
  }

  // --- streaming indicators and the send slot -------------------------------------------------------
  const SUBMIT = '<button type="submit" data-testid="chat-submit" aria-label="Submit" class="send">Send</button>';
  const VOICE = '<button type="button" aria-label="Enter voice mode" class="voice">Voice</button>';
  const STOP = '<button type="button" aria-label="Stop model response" class="stop">Stop</button>';
  let slotTimer = 0;

  function indicators() {
    const busy = streaming.size > 0;
    scroller.setAttribute('aria-busy', busy ? 'true' : 'false');
    const status = statusSlot.querySelector('[role="status"]');
    if (busy && !status) statusSlot.innerHTML = '<div role="status" class="generating">Generating response…</div>';
    if (!busy && status) statusSlot.replaceChildren();
    renderSlot();
  }

  function renderSlot() {
    // like a framework re-render: the button follows the state a moment later, not within the input event
    clearTimeout(slotTimer);
    slotTimer = setTimeout(() => {
      const want = streaming.size ? STOP : doc.trim() ? SUBMIT : VOICE;
      if (sendSlot.innerHTML !== want) sendSlot.innerHTML = want;
    }, 30);
  }

  // --- the composer: a tiptap editor over a text document, one paragraph per line ------------------------
  let doc = '';
  let editor = null;
  const EMPTY = '<p class="is-empty is-editor-empty" data-placeholder="Ask Grok anything"><br class="ProseMirror-trailingBreak"></p>';

  function paint(caret) {
    if (!doc) editor.innerHTML = EMPTY;
    else {
      editor.replaceChildren(...doc.split('\n').map((line) => {
        const p = document.createElement('p');
        if (line) p.textContent = line;
        else p.innerHTML = '<br class="ProseMirror-trailingBreak">';
        return p;
      }));
    }
    const lines = doc.split('\n');
    let rest = caret;
    let i = 0;
    while (i < lines.length - 1 && rest > lines[i].length) {
      rest -= lines[i].length + 1;
      i += 1;
    }
    const p = editor.children[Math.min(i, editor.children.length - 1)];
    const range = document.createRange();
    if (p.firstChild && p.firstChild.nodeType === Node.TEXT_NODE) range.setStart(p.firstChild, Math.min(rest, p.firstChild.length));
    else range.setStart(p, 0);
    range.collapse(true);
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    renderSlot();
  }

  function offsetOf(node, offset) {
    const paragraphs = [...editor.children];
    const starts = [];
    let at = 0;
    for (const p of paragraphs) {
      starts.push(at);
      at += p.textContent.length + 1;
    }
    if (node === editor) return offset < paragraphs.length ? starts[offset] : doc.length;
    let p = node;
    while (p.parentElement !== editor) p = p.parentElement;
    const i = paragraphs.indexOf(p);
    if (node.nodeType === Node.TEXT_NODE) return starts[i] + offset;
    return starts[i] + (offset ? p.textContent.length : 0);
  }

  function selection() {
    const sel = getSelection();
    if (!sel.rangeCount || !editor.contains(sel.getRangeAt(0).startContainer)) return [doc.length, doc.length];
    const range = sel.getRangeAt(0);
    const a = Math.min(offsetOf(range.startContainer, range.startOffset), doc.length);
    const b = Math.min(offsetOf(range.endContainer, range.endOffset), doc.length);
    return [Math.min(a, b), Math.max(a, b)];
  }

  function replace(text, start, end) {
    doc = doc.slice(0, start) + text + doc.slice(end);
    paint(start + text.length);
  }

  function onBeforeInput(e) {
    const [start, end] = selection();
    const type = e.inputType;
    e.preventDefault();
    if (type === 'insertText' || type === 'insertReplacementText' || type === 'insertFromPaste') {
      replace(e.data ?? e.dataTransfer?.getData('text/plain') ?? '', start, end);
    } else if (type === 'insertParagraph' || type === 'insertLineBreak') {
      replace('\n', start, end);
    } else if (type.startsWith('delete')) {
      if (start !== end) replace('', start, end);
      else if (type.includes('Backward') && start > 0) replace('', start - 1, start);
      else if (type.includes('Forward') && end < doc.length) replace('', start, end + 1);
    }
  }

  function hydrate() {
    editor = document.createElement('div');
    editor.className = 'tiptap ProseMirror';
    editor.contentEditable = 'true';
    editor.setAttribute('role', 'textbox');
    editor.setAttribute('translate', 'no');
    editor.setAttribute('tabindex', '0');
    editor.innerHTML = EMPTY;
    editor.addEventListener('beforeinput', onBeforeInput);
    editor.addEventListener('paste', (e) => {
      e.preventDefault();
      const [start, end] = selection();
      replace(e.clipboardData.getData('text/plain'), start, end);
    });
    editor.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    });
    editorSlot.appendChild(editor);
    renderSlot();
  }

  // --- the gateway ----------------------------------------------------------------------------------------
  let ws = null;
  const sessionId = uid();
  let sending = false;
  let awaitingReply = false;
  let history = [];

  function send(event) {
    ws.send(JSON.stringify({ session_id: sessionId, event: { ...event, event_id: `evt_${uid()}` } }));
  }

  function chatPath() {
    return data.projectId ? `/project/${data.projectId}?chat=${chatId}` : `/c/${chatId}`;
  }

  function onFrame(frame) {
    const event = frame.event;
    const view = frame.x_mock;
    switch (event.type) {
      case 'conversation.attached':
        if (!chatId) {
          chatId = event.conversation.id;
          window.history.pushState(null, '', chatPath());
        }
        break;
      case 'conversation.history.item':
        history.push(view);
        break;
      case 'conversation.history.done':
        for (const item of history) upsert(item);
        history = [];
        break;
      case 'conversation.item.created':
        upsert(view);
        if (sending) {
          sending = false;
          doc = '';
          paint(0);
        }
        break;
      case 'response.created':
        upsert(view);
        if (awaitingReply) {
          awaitingReply = false;
          const sep = chatPath().includes('?') ? '&' : '?';
          window.history.replaceState(null, '', `${chatPath()}${sep}rid=${event.response.id}`);
        }
        break;
      case 'response.chunk':
      case 'response.done':
        upsert(view);
        break;
      case 'error':
        sending = awaitingReply = false;
        toast(event.error.message);
        break;
      default:
        break;
    }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${scheme}://${location.host}/ws/mgw/${data.live ? '?live=1' : ''}`);
    ws.addEventListener('open', () => send({
      type: 'session.create',
      session: { model: 'grok-4', x_grok: { conversation_id: chatId, load_existing: !!chatId, needs_history: !!chatId } },
    }));
    ws.addEventListener('message', (e) => onFrame(JSON.parse(e.data)));
  }

  function submit() {
    const text = doc;
    if (!text.trim() || streaming.size || sending || !ws || ws.readyState !== WebSocket.OPEN) return;
    sending = awaitingReply = true;
    send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
    send({ type: 'response.create', response: { model: 'grok-4' } });
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  sendSlot.addEventListener('click', (e) => {
    if (e.target.closest('[aria-label="Stop model response"]')) send({ type: 'response.cancel' });
  });

  // --- the model picker: a menu that opens on pointerdown --------------------------------------------------
  picker.addEventListener('pointerdown', () => {
    const open = document.querySelector('[role="menu"]');
    if (open) return open.remove();
    const menu = document.createElement('div');
    menu.setAttribute('role', 'menu');
    menu.className = 'model-menu';
    menu.innerHTML = ['Grok 4', 'Grok 4 Heavy', 'Grok 3'].map((m) => `<div role="menuitem" tabindex="-1">${m}</div>`).join('');
    form.appendChild(menu);
    picker.setAttribute('aria-expanded', 'true');
  });
  document.addEventListener('click', (e) => {
    const item = e.target.closest('[role="menuitem"]');
    if (item) picker.querySelector('span').textContent = item.textContent;
    if (!e.target.closest('#model-select-trigger')) {
      document.querySelector('[role="menu"]')?.remove();
      picker.setAttribute('aria-expanded', 'false');
    }
  });

  // --- toasts ------------------------------------------------------------------------------------------------
  function toast(message) {
    const li = document.createElement('li');
    li.setAttribute('data-sonner-toast', '');
    li.dataset.type = 'error';
    li.setAttribute('role', 'status');
    li.setAttribute('aria-live', 'polite');
    li.innerHTML = '<div data-content><div data-title></div></div>';
    li.querySelector('[data-title]').textContent = message;
    toaster.appendChild(li);
    setTimeout(() => li.remove(), TOAST_MS);
  }

  // --- Copy: a message's raw markdown, or a code block's code ------------------------------------------------
  canvas.addEventListener('click', (e) => {
    const button = e.target.closest('button[aria-label="Copy"]');
    if (!button) return;
    const block = button.closest('[data-testid="code-block"]');
    if (block) return navigator.clipboard.writeText(block.querySelector('pre code').textContent);
    const turn = byId.get(button.closest('[id^="response-"]').id.replace(/^response-/, ''));
    navigator.clipboard.writeText(turn ? turn.markdown : '');
  });

  // --- start: the session check, then the editor, then the gateway -------------------------------------------
  fetch('/rest/user-settings', { credentials: 'include' }).then((response) => {
    if (response.status === 401) {
      const back = encodeURIComponent(location.href);
      const away = () => location.replace(`${location.protocol}//${data.accountsHost}:${location.port}/sign-in?redirect=${back}`);
      if (!data.redirectMs) return away();
      setTimeout(away, data.redirectMs);  // a late redirect: the logged-out shell shows meanwhile
    }
    setTimeout(hydrate, HYDRATE_MS);
    setTimeout(connect, CONNECT_MS);
  });
})();
