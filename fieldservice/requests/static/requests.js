// Service-request console: SLA clocks counting down, and the intake form's required-date default.
(function () {
  'use strict';

  function pad(n) { return String(n).padStart(2, '0'); }

  // "1天 02:13:05" in Chinese, "1d 02:13:05" in English: the page's language says which.
  const DAYS = (document.documentElement.lang || '').startsWith('zh') ? '天 ' : 'd ';
  function span(ms) {
    let s = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    return (d ? d + DAYS : '') + pad(h) + ':' + pad(m) + ':' + pad(s);
  }

  // The server's clock is the reference: the page carries the server's "now", the browser keeps the offset.
  let offset = 0;
  function syncClock(root) {
    const holder = root.querySelector('[data-server-now]');
    if (holder) offset = Date.parse(holder.getAttribute('data-server-now')) - Date.now();
  }

  function tick() {
    const now = Date.now() + offset;
    document.querySelectorAll('.sla-clock[data-due]').forEach((clock) => {
      if (clock.hasAttribute('data-stopped')) return;
      const left = Date.parse(clock.getAttribute('data-due')) - now;
      const out = clock.querySelector('.sla-left') || clock;
      const label = left >= 0 ? clock.getAttribute('data-left-label') : clock.getAttribute('data-over-label');
      out.textContent = (label || '{t}').replace('{t}', span(left));
      clock.classList.toggle('breached', left < 0);
      clock.classList.toggle('soon', left >= 0 && left < 2 * 3600 * 1000);
    });
  }

  function touchable(input) {
    if (input && !input.dataset.bound) {
      input.dataset.bound = '1';
      input.addEventListener('input', () => { input.dataset.touched = '1'; });
    }
  }

  // The due-time preview proposes a required date; it fills the field until the dispatcher types one.
  function applyDefaultRequired(root) {
    const preview = root.querySelector('[data-default-required]');
    const input = document.getElementById('required_by');
    touchable(input);
    if (preview && input && !input.dataset.touched) {
      input.value = preview.getAttribute('data-default-required');
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    syncClock(document);
    touchable(document.getElementById('required_by'));
    tick();
    window.setInterval(tick, 1000);
  });
  document.addEventListener('htmx:afterSwap', (event) => {
    syncClock(event.target);
    applyDefaultRequired(event.target);
    tick();
  });
})();
