// Reports DOM changes to the driver through exposed bindings, at most once per 100 ms.
// Installed on every document (init script) and once on the current one; idempotent.
(name) => {
  const watch = (window.__devspaceWatch = window.__devspaceWatch || { names: new Set(), timer: 0, observer: null });
  watch.names.add(name);
  if (watch.observer) return;
  const fire = () => {
    watch.timer = 0;
    for (const n of watch.names) {
      if (typeof window[n] === 'function') window[n]().catch(() => {});
    }
  };
  watch.observer = new MutationObserver(() => {
    if (!watch.timer) watch.timer = setTimeout(fire, 100);
  });
  watch.observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['hidden'] });
}
