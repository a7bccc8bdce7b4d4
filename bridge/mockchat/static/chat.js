// The mock chat page: an editor-like composer, the posting stream, live push, a virtualized history.
(() => {
  const data = JSON.parse(document.getElementById('chat-data').textContent);
  const list = document.getElementById('messages');
  const top = document.getElementById('history-top');
  const form = document.querySelector('form[data-composer]');
  const slot = document.getElementById('status-slot');
  const api = `/api/chat/${encodeURIComponent(data.chatId)}`;
  const query = `lossy=${data.lossy ? 1 : 0}`;
  const raw = new Map(Object.entries(data.raw));
  const streaming = new Set();

  // --- turns -------------------------------------------------------------------------------
  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const bubbles = () => list.querySelectorAll(':scope > .message-bubble');
  const toNode = (html) => {
    const tpl = document.createElement('template');
    tpl.innerHTML = html;
    return tpl.content.firstElementChild;
  };

  function trimWindow() {
    if (!data.window || !nearBottom()) return;
    const all = bubbles();
    for (let i = 0; i < all.length - data.window; i++) all[i].remove();
    if (all.length > data.window) top.dataset.hasMore = '1';
  }

  function upsert(view) {
    const stick = nearBottom();
    const node = toNode(view.html);
    const old = document.getElementById(node.id);
    if (old) old.replaceWith(node);
    else list.appendChild(node);
    raw.set(view.id, view.markdown);
    if (view.status === 'streaming') streaming.add(view.id);
    else streaming.delete(view.id);
    indicators();
    if (!old) trimWindow();
    if (stick) list.scrollTop = list.scrollHeight;
  }

  async function readLines(response, onLine) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 1);
        if (line.trim()) onLine(JSON.parse(line));
      }
    }
  }

  // --- streaming indicators: the send button becomes a stop button, a status line appears -----
  function indicators() {
    const busy = streaming.size > 0;
    const send = form.querySelector('[data-testid="chat-submit"]');
    const stop = form.querySelector('[data-testid="stop-button"]');
    if (busy && send) {
      send.replaceWith(toNode('<button type="button" data-testid="stop-button" aria-label="Stop model response">Stop</button>'));
      slot.appendChild(toNode('<div role="status" class="generating">Generating…</div>'));
    } else if (!busy && stop) {
      stop.replaceWith(toNode('<button type="submit" data-testid="chat-submit" aria-label="Submit">Send</button>'));
      slot.replaceChildren();
    }
  }

  // --- composer ------------------------------------------------------------------------------
  const editor = form.querySelector('[contenteditable="true"]');
  const area = form.querySelector('textarea');
  let draft = '';  // a textarea's state, as a React-controlled input keeps it: updated by input events only

  function insert(text) {
    const sel = getSelection();
    const node = document.createTextNode(text);
    const range = sel.rangeCount ? sel.getRangeAt(0) : null;
    if (range && editor.contains(range.startContainer)) {
      range.deleteContents();
      range.insertNode(node);
      range.setStartAfter(node);
      range.collapse(true);
      sel.removeAllRanges();
      sel.addRange(range);
    } else {
      editor.appendChild(node);
    }
    editor.normalize();
  }

  if (editor) {
    editor.addEventListener('beforeinput', (e) => {
      if (e.inputType === 'insertText' || e.inputType === 'insertReplacementText') {
        e.preventDefault();
        insert(e.data ?? e.dataTransfer?.getData('text/plain') ?? '');
      } else if (e.inputType === 'insertLineBreak' || e.inputType === 'insertParagraph') {
        e.preventDefault();
        insert('\n');
      }
    });
    editor.addEventListener('paste', (e) => {
      e.preventDefault();
      insert(e.clipboardData.getData('text/plain'));
    });
  }
  if (area) area.addEventListener('input', () => { draft = area.value; });

  (editor || area).addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });

  const composerText = () => (editor ? editor.textContent : draft);
  function clearComposer() {
    if (editor) editor.replaceChildren();
    else { area.value = ''; draft = ''; }
  }

  async function submit() {
    const text = composerText();
    if (!text.trim() || streaming.size) return;
    clearComposer();
    const response = await fetch(`${api}/messages?${query}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text }),
    });
    if (response.ok) await readLines(response, upsert);
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  form.addEventListener('click', (e) => {
    if (e.target.closest('[data-testid="stop-button"]')) fetch(`${api}/stop`, { method: 'POST' });
  });

  // --- per-message Copy: the raw markdown, byte for byte ----------------------------------------
  list.addEventListener('click', (e) => {
    const button = e.target.closest('[data-testid="copy-button"]');
    if (!button) return;
    const id = button.closest('.message-bubble').id.replace(/^response-/, '');
    navigator.clipboard.writeText(raw.get(id) ?? '');
  });

  // --- virtualized history: scrolling to the top loads older turns ------------------------------
  let loading = false;
  list.addEventListener('scroll', async () => {
    if (loading || list.scrollTop > 40 || top.dataset.hasMore !== '1') return;
    const first = list.querySelector(':scope > .message-bubble');
    if (!first) return;
    loading = true;
    try {
      const before = first.id.replace(/^response-/, '');
      const response = await fetch(`${api}/messages?before=${encodeURIComponent(before)}&limit=${data.window || 12}&${query}`);
      const page = await response.json();
      const height = list.scrollHeight;
      const frag = document.createDocumentFragment();
      for (const view of page.items) {
        frag.appendChild(toNode(view.html));
        raw.set(view.id, view.markdown);
      }
      top.after(frag);
      top.dataset.hasMore = page.has_more ? '1' : '0';
      list.scrollTop += list.scrollHeight - height;
    } finally {
      loading = false;
    }
  });

  // --- start: resume replies still being written, follow other sessions when live ---------------
  for (const id of data.streaming) {
    streaming.add(id);
    fetch(`${api}/messages/${encodeURIComponent(id)}/stream?${query}`).then((r) => readLines(r, upsert));
  }
  indicators();
  if (data.live) {
    const source = new EventSource(`${api}/events?${query}`);
    source.onmessage = (e) => upsert(JSON.parse(e.data));
  }
  list.scrollTop = list.scrollHeight;
})();
