// The schedule board. Places each bar (shift, leave, appointment) from its data attributes (the content security
// policy allows no style attributes in the page, but a script of ours may set styles). Dispatchers drag a request
// from the side list onto an engineer's row to assign and book it at that time, drag a booked slot along its row
// to move it, or its right edge to change its length; a change asks for the reason. The server answers every drop:
// a refusal (a double booking, a stale version with who changed the request) shows above the board, and the bar
// goes back where it was.
(function () {
  'use strict';
  const STEP = 15; // minutes: windows start and end on the quarter hour
  const LENGTH = 120; // minutes booked for a request dropped from the list

  function place(root) {
    root.querySelectorAll('.bar [data-left]').forEach((bar) => {
      bar.style.left = bar.dataset.left + '%';
      bar.style.width = bar.dataset.width + '%';
    });
  }

  function pad(n) { return String(n).padStart(2, '0'); }
  function hhmm(minutes) { return pad(Math.floor(minutes / 60)) + ':' + pad(minutes % 60); }
  function snap(minutes) { return Math.round(minutes / STEP) * STEP; }

  function init() {
    place(document);
    const grid = document.querySelector('.timeline-grid[data-first-day]');
    if (!grid || !grid.dataset.mayMove) return;
    const firstDay = grid.dataset.firstDay;
    const days = Number(grid.dataset.days);
    const fromMinutes = Number(grid.dataset.fromHour) * 60;
    const dayMinutes = Number(grid.dataset.hours) * 60; // minutes shown per day
    const total = days * dayMinutes;
    const message = document.querySelector('.board-message');
    const dialog = document.querySelector('.move-dialog');
    const texts = { window: grid.dataset.textWindow, failed: grid.dataset.textFailed };
    const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';

    function dateOf(index) {
      const d = new Date(firstDay + 'T00:00:00Z');
      d.setUTCDate(d.getUTCDate() + index);
      return d.toISOString().slice(0, 10);
    }
    // Board minutes (0 .. total) -> the day's index and the site-time minutes of that day.
    function fromBoard(t) {
      const index = Math.min(Math.max(Math.floor(t / dayMinutes), 0), days - 1);
      return { index: index, minutes: fromMinutes + t - index * dayMinutes };
    }
    function describe(number, slot) {
      return (texts.window || '{number} {date} {start}–{end}').replace('{number}', number)
        .replace('{date}', slot.date).replace('{start}', slot.start).replace('{end}', slot.end);
    }
    function show(text, isError) {
      message.textContent = text;
      message.classList.toggle('error', !!isError);
      message.hidden = false;
    }

    function send(body) {
      return fetch(grid.dataset.bookUrl, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRFToken': csrf },
        body: JSON.stringify(body),
      }).then((response) => response.json().catch(() => ({})).then((data) => {
        // Done, or the board was out of date (the server keeps the message for the page it reloads to).
        if (response.ok || data.reload) { window.location.reload(); return true; }
        show(data.message || texts.failed, true);
        return false;
      }), () => { show(texts.failed, true); return false; });
    }

    // ---- a request from the side list, dropped on an engineer's row: assign and book in one step
    document.querySelectorAll('.unscheduled li[draggable="true"]').forEach((item) => {
      item.addEventListener('dragstart', (event) => {
        event.dataTransfer.setData('text/plain', item.dataset.request);
        event.dataTransfer.effectAllowed = 'move';
        item.classList.add('dragging');
      });
      item.addEventListener('dragend', () => item.classList.remove('dragging'));
    });
    grid.querySelectorAll('.bar[data-engineer]').forEach((bar) => {
      bar.addEventListener('dragover', (event) => { event.preventDefault(); bar.classList.add('drop-target'); });
      bar.addEventListener('dragleave', () => bar.classList.remove('drop-target'));
      bar.addEventListener('drop', (event) => {
        event.preventDefault();
        bar.classList.remove('drop-target');
        const id = event.dataTransfer.getData('text/plain');
        const item = document.querySelector('.unscheduled li[data-request="' + CSS.escape(id) + '"]');
        if (!item) return;
        const rect = bar.getBoundingClientRect();
        const t = Math.min(Math.max(snap((event.clientX - rect.left) / rect.width * total), 0), total - STEP);
        const at = fromBoard(t);
        send({
          request_id: Number(id),
          version: Number(item.dataset.version),
          engineer_id: Number(bar.dataset.engineer),
          date: dateOf(at.index),
          start: hhmm(at.minutes),
          end: hhmm(Math.min(at.minutes + LENGTH, 24 * 60 - 1)),
        });
      });
    });

    // ---- a booked slot dragged along its row (move) or by its right edge (resize): a change, with its reason
    let drag = null;
    grid.querySelectorAll('.appointment.movable').forEach((el) => {
      el.addEventListener('pointerdown', (event) => {
        if (event.button !== 0) return;
        event.preventDefault();
        const rect = el.parentElement.getBoundingClientRect();
        drag = {
          el: el,
          resize: event.target.classList.contains('grip'),
          x: event.clientX,
          perPixel: total / rect.width,
          left: parseFloat(el.dataset.left),
          width: parseFloat(el.dataset.width),
          moved: false,
        };
        el.setPointerCapture(event.pointerId);
      });
      el.addEventListener('pointermove', (event) => {
        if (!drag || drag.el !== el) return;
        const dx = event.clientX - drag.x;
        if (Math.abs(dx) > 3) drag.moved = true;
        if (!drag.moved) return;
        el.classList.add('moving');
        const shift = snap(dx * drag.perPixel) / total * 100;
        if (drag.resize) el.style.width = Math.max(drag.width + shift, 0.5) + '%';
        else el.style.left = (drag.left + shift) + '%';
        drag.delta = snap(dx * drag.perPixel);
      });
      el.addEventListener('pointerup', () => {
        if (!drag || drag.el !== el) return;
        const done = drag;
        drag = null;
        if (!done.moved || !done.delta) { reset(el); return; }
        // Keep the click that ends a drag from following the link inside.
        el.addEventListener('click', (e) => e.preventDefault(), { once: true, capture: true });
        const start = Number(el.dataset.startMinutes);
        const end = Number(el.dataset.endMinutes);
        let index = Number(el.dataset.dayIndex);
        let newStart = start;
        let newEnd = end;
        if (done.resize) {
          newEnd = Math.max(end + done.delta, start + STEP);
        } else {
          // Along the board: the slot may move to another day of the week shown.
          const t = index * dayMinutes + (start - fromMinutes) + done.delta;
          const at = fromBoard(t);
          index = at.index;
          newStart = at.minutes;
          newEnd = newStart + (end - start);
        }
        const slot = { date: dateOf(index), start: hhmm(newStart), end: hhmm(Math.min(newEnd, 24 * 60 - 1)) };
        ask(el, slot);
      });
    });

    function reset(el) {
      el.classList.remove('moving');
      el.style.left = el.dataset.left + '%';
      el.style.width = el.dataset.width + '%';
    }

    function ask(el, slot) {
      const form = dialog.querySelector('form');
      const reason = form.elements.reason;
      dialog.querySelector('.move-what').textContent = describe(el.dataset.number, slot);
      reason.value = '';
      const cancel = dialog.querySelector('.move-cancel');
      function finish(ok) {
        form.removeEventListener('submit', onSubmit);
        cancel.removeEventListener('click', onCancel);
        dialog.removeEventListener('cancel', onCancel);
        dialog.close();
        if (!ok) { reset(el); return; }
        send({
          request_id: Number(el.dataset.request),
          version: Number(el.dataset.version),
          engineer_id: Number(el.parentElement.dataset.engineer),
          date: slot.date,
          start: slot.start,
          end: slot.end,
          reason: reason.value.trim(),
        }).then((applied) => { if (!applied) reset(el); });
      }
      function onSubmit(event) { event.preventDefault(); if (reason.value.trim()) finish(true); }
      function onCancel(event) { event.preventDefault(); finish(false); }
      form.addEventListener('submit', onSubmit);
      cancel.addEventListener('click', onCancel);
      dialog.addEventListener('cancel', onCancel);
      dialog.showModal();
      reason.focus();
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
