/* The app: log-in, the job list, a job's detail, the sync bar, and the timers that drive the outbox.
 * Screens read the phone's copy (IndexedDB) only, so they work the same with or without a network. */
(function (FS) {
  'use strict';

  const t = FS.t;
  const view = document.getElementById('view');
  const SYNC_EVERY_MS = 30000;
  // The server's limits (requests/schemas.py): a longer text would only come back refused.
  const NOTE_MAX = 2000;
  const URGE_MAX = 300;
  const REASON_MAX = 500;
  // The job's details the engineer may edit offline (requests/states.py EDITABLE_FIELDS, with their limits):
  // each edit is an `edit` op the server merges by field.
  const DETAIL_FIELDS = { contact_name: 120, contact_phone: 40, site_address: 300, engineer_note: 2000 };
  let syncing = false;

  function esc(value) {
    return String(value === null || value === undefined ? '' : value).replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    })[c]);
  }

  // One date-time format in every language and on every screen (console, PWA, PDF, customer page).
  function fmt(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  function statusLabel(status) {
    return t('status_' + status);
  }

  function translatePage() {
    document.querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
    document.getElementById('lang').textContent = FS.i18n.lang === 'en' ? '中文' : 'EN';
    document.title = t('app_name');
  }

  // ---------------------------------------------------------------- session

  async function session() {
    return FS.store.getMeta('session');
  }

  function sessionUsable(s) {
    return s && s.token && !s.expired && (!s.expires_at || Date.parse(s.expires_at) > Date.now());
  }

  async function renderLogin(message) {
    // Logging in again after the session ended: the changes waiting on the phone go as soon as it succeeds.
    const previous = await session();
    const counts = await FS.store.countOps();
    const waiting = counts.pending + counts.rejected;
    const again = previous && previous.token && previous.user;
    view.innerHTML = `
      <form class="card" id="login-form" data-again="${again ? 1 : 0}">
        <h2>${esc(again ? t('login_again') : t('login'))}</h2>
        ${message ? `<p class="error" id="login-message">${esc(message)}</p>` : ''}
        ${waiting ? `<p class="banner" id="login-waiting">${esc(t('login_waiting', { n: waiting }))} <a href="#/outbox">${esc(t('outbox'))}</a></p>` : ''}
        <label for="username">${esc(t('username'))}</label>
        <input id="username" name="username" autocomplete="username" required value="${esc(again ? previous.user.username : '')}">
        <label for="password">${esc(t('password'))}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <div class="actions"><button class="primary" type="submit">${esc(t('login'))}</button></div>
        <p class="muted">${esc(t('login_needs_network'))}</p>
      </form>`;
    document.getElementById('login-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const form = event.target;
      try {
        const answer = await FS.api.post('/api/v1/auth/token', {
          username: form.username.value.trim(), password: form.password.value,
        });
        const previous = await session();
        if (previous && previous.user && previous.user.id !== answer.user.id) {
          await FS.store.clearSession(); // another engineer on this phone: their jobs are not ours
        }
        await FS.store.setMeta('session', {
          token: answer.token, user: answer.user, expires_at: answer.expires_at, renewed_at: new Date().toISOString(),
        });
        // The error of the refused session is over; what waits goes now, with no back-off.
        await FS.store.setMeta('status', Object.assign(await FS.store.getMeta('status', {}), { last_error: null, next_at: null, failures: 0 }));
        location.hash = '#/jobs';
        await syncNow(true);
        route();
        FS.prime.startIfDue(true);
      } catch (err) {
        renderLogin(t('login_failed', { message: err.message }));
      }
    });
  }

  async function logout() {
    // End the login on the server too, so a copy of the token is worthless; offline, it expires on its own.
    try {
      await FS.api.post('/api/v1/auth/logout', {}, { timeout: 5000 });
    } catch (err) {
      /* offline, or the login had ended already */
    }
    await FS.store.clearSession();
    location.hash = '#/login';
  }

  // ---------------------------------------------------------------- sync bar

  // The storage estimate, checked at start and every few minutes (not on each redraw: it costs the browser a walk).
  let storage = null;
  async function checkStorage() {
    storage = await FS.outboxView.storageState();
    return storage;
  }

  async function renderSyncBar() {
    const bar = document.getElementById('syncbar');
    const counts = await FS.store.countOps();
    const status = await FS.store.getMeta('status', {});
    const s = await session();
    const online = FS.outbox.online();
    const parts = [];
    parts.push(`<span class="pill ${online ? 'ok' : 'warn'}" id="net-state">${esc(online ? t('online') : t('offline'))}</span>`);
    parts.push(`<a class="pill ${counts.pending ? 'warn' : ''}" id="pending-count" href="#/outbox" data-pending="${counts.pending}">${esc(t('pending', { n: counts.pending }))}</a>`);
    if (counts.rejected) {
      parts.push(`<a class="pill bad" id="rejected-count" href="#/outbox" data-rejected="${counts.rejected}">${esc(t('rejected_n', { n: counts.rejected }))}</a>`);
    }
    if (storage && storage.low) {
      parts.push(`<a class="pill bad" id="storage-low" href="#/outbox">${esc(t('storage_low_short', { percent: Math.round(storage.share * 100) }))}</a>`);
    }
    parts.push(await FS.prime.pill(esc));
    parts.push(`<span class="muted" id="last-sync">${esc(status.last_sync ? t('synced_at', { time: fmt(status.last_sync) }) : t('never_synced'))}</span>`);
    if (status.last_error && online) {
      parts.push(`<span class="error">${esc(t('sync_error', { message: status.last_error.message }))}</span>`);
    }
    if (s && s.expired) parts.push(`<a class="error" id="session-expired" href="#/login">${esc(t('session_expired'))}</a>`);
    parts.push(`<button type="button" id="sync-now" ${online && !syncing ? '' : 'disabled'}>${esc(syncing ? t('syncing') : t('sync_now'))}</button>`);
    bar.innerHTML = parts.join(' ');
    bar.className = 'syncbar' + (online ? '' : ' offline') + ((status.last_error && online) || counts.rejected ? ' has-error' : '');
    bar.dataset.state = syncing ? 'syncing' : online ? 'idle' : 'offline';
    document.getElementById('sync-now').addEventListener('click', () => syncNow(true));
  }

  /* One sync round; *fresh*: bring the reference data (van stock, repair items...) now, not at its next turn. */
  async function syncNow(fresh) {
    if (syncing || !FS.outbox.online()) return renderSyncBar();
    syncing = true;
    await renderSyncBar();
    try {
      await FS.outbox.syncNow({ forceReference: false, freshReference: fresh === true });
    } finally {
      syncing = false;
    }
    const s = await session();
    if (s && s.expired && !location.hash.startsWith('#/login') && !location.hash.startsWith('#/outbox')) {
      return renderLogin(t('session_expired'));
    }
    return refresh();
  }

  // ---------------------------------------------------------------- jobs

  /* What the engineer did on the phone that the server has not confirmed yet, per job. */
  async function localState(job) {
    const ops = await FS.store.opsForRequest(job.id);
    const local = {
      progress: Object.assign({}, job.progress || {}), status: job.status, appointment: job.appointment || null, pending: [], rejected: [],
      details: {},
    };
    for (const field of Object.keys(DETAIL_FIELDS)) if (field in job) local.details[field] = job[field];
    for (const op of ops) {
      (op.status === 'rejected' ? local.rejected : local.pending).push(op);
      if (op.status === 'rejected') continue;
      const key = { accept: 'accepted_at', depart: 'departed_at', arrive: 'arrived_at' }[op.type];
      if (key) local.progress[key] = op.client_time;
      if (op.type === 'record_visit') local.status = op.payload.outcome === 'resolved' ? 'resolved' : 'awaiting_assignment';
      if (op.type === 'hand_back') local.status = 'awaiting_assignment';
      if (op.type === 'appointment') local.appointment = { start: op.payload.start, end: op.payload.end, status: 'booked', pending: true };
      if (op.type === 'edit') Object.assign(local.details, (op.payload && op.payload.changes) || {});
    }
    return local;
  }

  /* The booked window of a job (the server's, or the one queued on the phone), or null. */
  function bookedWindow(local) {
    const a = local.appointment;
    return a && a.status === 'booked' ? a : null;
  }

  /* Jobs in the order of the day: booked windows first by their start, then the others by due time. */
  function jobOrder(a, b) {
    const wa = bookedWindow(a.local);
    const wb = bookedWindow(b.local);
    if (wa && wb) return Date.parse(wa.start) - Date.parse(wb.start);
    if (wa || wb) return wa ? -1 : 1;
    return Date.parse(a.job.required_by) - Date.parse(b.job.required_by);
  }

  function windowText(a) {
    const end = new Date(a.end).toLocaleTimeString(FS.i18n.lang === 'en' ? 'en-GB' : 'zh-CN', { hour: '2-digit', minute: '2-digit' });
    return t('appointment_window', { start: fmt(a.start), end });
  }

  function section(job, local) {
    if (job.status === 'resolved') return 'done';
    const booked = local && bookedWindow(local);
    const due = new Date(booked ? booked.start : job.required_by);
    const endOfToday = new Date();
    endOfToday.setHours(23, 59, 59, 999);
    return due <= endOfToday ? 'today' : 'upcoming';
  }

  async function renderJobs() {
    const drawnFor = location.hash;
    const jobs = await FS.store.allJobs();
    const entries = [];
    for (const job of jobs) entries.push({ job, local: await localState(job) });
    entries.sort(jobOrder);
    const groups = { today: [], upcoming: [], done: [] };
    for (const entry of entries) {
      groups[entry.local.status === 'resolved' ? 'done' : section(entry.job, entry.local)].push(entry);
    }
    const s = await session();
    let html = `<div class="row"><h2 class="grow">${esc(t('jobs'))}</h2>
      <span class="muted">${esc((s && s.user && s.user.username) || '')}</span>
      <button type="button" id="logout">${esc(t('logout'))}</button></div>
      <p><a class="button" id="open-pool" href="#/pool">${esc(t('claim_pool'))}</a>
        ${await FS.settle.returnedLink(esc)}
        <a class="button" id="open-statements" href="#/statements">${esc(t('my_statements'))}</a></p>`;
    if (!jobs.length) html += `<p class="muted" id="no-jobs">${esc(t('no_jobs'))}</p>`;
    for (const name of ['today', 'upcoming', 'done']) {
      if (!groups[name].length) continue;
      html += `<h3>${esc(t(name))}</h3>`;
      for (const { job, local } of groups[name]) {
        const flag = local.rejected.length ? 'rejected' : local.pending.length ? 'pending' : '';
        html += `<a class="card job ${flag}" href="#/job/${job.id}" data-job="${job.id}">
          <div class="row"><strong class="grow">${esc(job.number)}</strong>
            <span class="pill" data-status="${esc(local.status)}">${esc(statusLabel(local.status))}${local.pending.length ? esc(t('waiting_sync')) : ''}</span></div>
          <div>${esc(job.customer.name)} · ${esc(job.problem_type_label[FS.i18n.lang] || job.problem_type)}</div>
          <div class="muted">${esc(job.customer.address)}</div>
          ${bookedWindow(local) ? `<div class="appointment" data-appointment-start="${esc(bookedWindow(local).start)}">${esc(windowText(bookedWindow(local)))}</div>` : ''}
          <div class="muted">${esc(t('due', { time: fmt(job.required_by) }))} · ${esc(t('priority', { n: job.priority }))}</div>
          ${job.removed ? `<div class="error">${esc(t('removed_job'))}</div>` : ''}
          ${local.rejected.length ? `<div class="error">${esc(t('refused'))}</div>` : ''}
        </a>`;
      }
    }
    if (location.hash !== drawnFor) return; // the engineer went elsewhere while this list was read
    view.innerHTML = html;
    document.getElementById('logout').addEventListener('click', logout);
  }

  function rejectedCard(op) {
    return FS.outboxView.rejectedCard(op, { esc, fmt });
  }

  async function renderJob(id) {
    const drawnFor = location.hash;
    const job = await FS.store.getJob(id);
    if (!job) {
      location.hash = '#/jobs';
      return;
    }
    const local = await localState(job);
    const c = job.customer;
    const mapUrl = c.lat && c.lng
      ? `https://uri.amap.com/marker?position=${c.lng},${c.lat}&name=${encodeURIComponent(c.name)}`
      : `https://uri.amap.com/search?keyword=${encodeURIComponent(c.address)}`;
    const eq = job.equipment;
    const open = local.status === 'assigned' && !job.removed;
    const p = local.progress;
    let html = `<p><a href="#/jobs">‹ ${esc(t('back'))}</a></p>`;
    if (job.removed) html += `<div class="banner" id="removed-banner">${esc(t('removed_job'))}</div>`;
    if (local.rejected.length) {
      html += local.rejected.map(rejectedCard).join('');
      html += `<div class="actions"><button type="button" id="retry-rejected">${esc(t('retry'))}</button></div>`;
    }
    html += `<div class="card"><div class="row"><h2 class="grow">${esc(job.number)}</h2>
        <span class="pill" id="job-status">${esc(statusLabel(local.status))}${local.pending.length ? esc(t('waiting_sync')) : ''}</span></div>
      <div><strong>${esc(t('problem'))}:</strong> ${esc(job.problem_type_label[FS.i18n.lang] || job.problem_type)}</div>
      <p>${esc(job.description)}</p>
      <div class="muted">${esc(t('due', { time: fmt(job.required_by) }))} · ${esc(t('priority', { n: job.priority }))}</div>
      <div class="muted">${p.accepted_at ? esc(t('accepted')) + ' ' + esc(fmt(p.accepted_at)) + ' · ' : ''}${p.departed_at ? esc(t('departed')) + ' ' + esc(fmt(p.departed_at)) + ' · ' : ''}${p.arrived_at ? esc(t('arrived')) + ' ' + esc(fmt(p.arrived_at)) : ''}</div>
    </div>`;
    if (open) {
      html += `<div class="actions">
        ${!p.accepted_at ? `<button type="button" data-op="accept">${esc(t('accept'))}</button>` : ''}
        ${!p.departed_at && !p.arrived_at ? `<button type="button" data-op="depart">${esc(t('depart'))}</button>` : ''}
        ${!p.arrived_at ? `<button type="button" data-op="arrive">${esc(t('arrive'))}</button>` : ''}
        <a class="button primary" id="record-visit" href="#/visit/${job.id}">${esc(t('record_visit'))}</a>
      </div>`;
    }
    const d = local.details;
    html += `<div class="card"><h3>${esc(t('customer'))}</h3>
      <div id="job-customer">${esc(c.name)}${d.contact_name && d.contact_name !== c.name ? ' · <span id="shown-contact-name">' + esc(d.contact_name) + '</span>' : ''}</div>
      <div class="row"><span class="grow" id="shown-address">${esc(d.site_address || c.address)}</span><a href="${esc(mapUrl)}" target="_blank" rel="noopener">${esc(t('open_map'))}</a></div>
      <div><a href="tel:${esc(d.contact_phone || c.phone)}" id="shown-phone">${esc(t('call'))} ${esc(d.contact_phone || c.phone)}</a></div>
      ${d.engineer_note ? `<p id="shown-engineer-note">${esc(t('field_engineer_note'))}: ${esc(d.engineer_note)}</p>` : ''}
    </div>`;
    html += FS.customerQr.card(job);
    const editable = Object.keys(DETAIL_FIELDS).filter((field) => field in job);
    if (open && editable.length) {
      html += `<form class="card" id="details-form" novalidate><h3>${esc(t('job_details'))}</h3>
        ${editable.map((field) => `<label for="detail-${field}">${esc(t('field_' + field))}</label>
          ${field === 'engineer_note' || field === 'site_address'
            ? `<textarea id="detail-${field}" name="${field}" maxlength="${DETAIL_FIELDS[field]}">${esc(d[field] || '')}</textarea>`
            : `<input id="detail-${field}" name="${field}" type="${field === 'contact_phone' ? 'tel' : 'text'}" maxlength="${DETAIL_FIELDS[field]}" value="${esc(d[field] || '')}">`}`).join('')}
        <p class="error" id="details-error"></p>
        <div class="actions"><button type="submit" id="save-details">${esc(t('save_details'))}</button></div></form>`;
    }
    if (eq) {
      html += `<div class="card"><h3>${esc(t('equipment'))}</h3>
        <div>${esc(job.product ? job.product.name + ' ' + job.product.model : '')}</div>
        <div class="muted">${esc(t('serial'))} ${esc(eq.serial_number)}${eq.warranty_until ? ' · ' + esc(t('warranty_until', { date: eq.warranty_until })) : ''}</div>
        <h3>${esc(t('history'))}</h3>
        ${eq.history.length ? '<ul class="timeline">' + eq.history.map((h) => `<li>${esc(h.number)} ${esc(statusLabel(h.status))}: ${esc(h.description)}
          ${h.visits.map((v) => `<div class="muted">${esc(fmt(v.finished_at))} ${esc(v.engineer ? v.engineer.name : '')}: ${esc(v.cause || '')} → ${esc(v.solution || '')}</div>`).join('')}</li>`).join('') + '</ul>'
        : `<p class="muted">${esc(t('no_history'))}</p>`}
      </div>`;
    }
    if (job.knowledge && job.knowledge.length) {
      html += `<div class="card"><h3>${esc(t('knowledge'))}</h3>${job.knowledge.map((k) => `<div><strong>${esc(k.fault_code || '')} ${esc(k.symptom)}</strong>
        <ul class="timeline">${k.causes.map((cause) => `<li>${esc(cause.description)}: ${cause.solutions.map((s) => esc(s.summary)).join('；')}</li>`).join('')}</ul></div>`).join('')}</div>`;
    }
    if (open) {
      html += `<div class="card"><label for="job-photo">${esc(t('add_photo'))}</label>
        <input id="job-photo" type="file" accept="image/*" capture="environment"></div>`;
      const booked = bookedWindow(local);
      html += `<form class="card" id="appointment-form"><h3>${esc(t('appointment'))}</h3>
        <p id="appointment-current">${booked ? esc(windowText(booked)) + (booked.pending ? esc(t('waiting_sync')) : '') : esc(t('no_appointment'))}</p>
        <div class="row"><label>${esc(t('appointment_date'))} <input type="date" name="day" required></label></div>
        <div class="row"><label>${esc(t('appointment_from'))} <input type="time" name="start" required></label>
          <label>${esc(t('appointment_to'))} <input type="time" name="end" required></label></div>
        ${booked ? `<label for="appointment-reason">${esc(t('appointment_reason'))}</label>
          <input id="appointment-reason" name="reason" required maxlength="${REASON_MAX}">` : ''}
        <label for="appointment-note">${esc(t('note'))}</label>
        <input id="appointment-note" name="note" maxlength="${NOTE_MAX}">
        <div class="actions"><button type="submit" id="book-appointment">${esc(booked ? t('change_appointment') : t('book_appointment'))}</button></div></form>`;
      html += `<form class="card" id="note-form"><label for="note">${esc(t('note'))}</label>
        <textarea id="note" name="note" required maxlength="${NOTE_MAX}"></textarea>
        <div class="actions"><button type="submit">${esc(t('add_note'))}</button></div></form>`;
      html += `<form class="card" id="urge-form"><label for="urge-note">${esc(t('urge_note'))}</label>
        <textarea id="urge-note" name="note" maxlength="${URGE_MAX}"></textarea>
        <div class="actions"><button type="submit">${esc(t('record_urge'))}</button></div></form>`;
      html += `<form class="card" id="hand-back-form"><label for="hand-back-reason">${esc(t('hand_back_reason'))}</label>
        <textarea id="hand-back-reason" name="reason" required maxlength="${REASON_MAX}"></textarea>
        <div class="actions"><button type="submit" class="danger">${esc(t('hand_back'))}</button></div></form>`;
    }
    html += `<div class="card"><h3>${esc(t('timeline'))}</h3><ul class="timeline">${(job.timeline || []).map((e) =>
      `<li>${esc(fmt(e.at))} ${esc(e.actor)}: ${esc(t(e.action))}${e.to_status && e.to_status !== e.from_status ? ' → ' + esc(statusLabel(e.to_status)) : ''}${e.note ? ' — ' + esc(e.note) : ''}</li>`).join('')}
      ${local.pending.map((op) => `<li class="muted">${esc(fmt(op.client_time))} ${esc(t(op.type))} ${esc(t('waiting_sync'))}</li>`).join('')}</ul></div>`;
    if (location.hash !== drawnFor) return;
    paint(html);
    FS.customerQr.bind(job);

    view.querySelectorAll('[data-op]').forEach((button) => button.addEventListener('click', async () => {
      button.disabled = true;
      await FS.outbox.enqueue(button.dataset.op, job.id, {});
      syncNow();
      renderJob(id);
    }));
    FS.outboxView.wireRejected(view, async (send) => {
      if (send) await syncNow();
      await route();
    });
    const retry = document.getElementById('retry-rejected');
    if (retry) retry.addEventListener('click', async () => { await FS.outbox.retry(job.id); syncNow(); });
    const jobPhoto = document.getElementById('job-photo');
    if (jobPhoto) jobPhoto.addEventListener('change', async () => {
      // The photo uploads on its own in chunks (PUT /uploads/<id>, under the id made here), then its op follows.
      for (const file of jobPhoto.files) {
        const { blob } = await FS.images.compressPhoto(file);
        const record = { id: FS.outbox.uuid(), request_id: job.id, kind: 'photo', content_type: 'image/jpeg', blob };
        await FS.outbox.enqueue('attach_photo', job.id, { attachment_id: record.id }, [record]);
      }
      syncNow();
      renderJob(id);
    });
    const appointmentForm = document.getElementById('appointment-form');
    if (appointmentForm) appointmentForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const f = appointmentForm;
      if (!f.reportValidity()) return;
      // Local times without an offset: the server reads them in the site's time zone.
      const payload = { start: `${f.day.value}T${f.start.value}`, end: `${f.day.value}T${f.end.value}` };
      if (f.reason && f.reason.value.trim()) payload.reason = f.reason.value.trim();
      if (f.note.value.trim()) payload.note = f.note.value.trim();
      await FS.outbox.enqueue('appointment', job.id, payload);
      f.reset(); // sent: not kept as typing when the page is drawn again
      syncNow();
      renderJob(id);
    });
    const detailsForm = document.getElementById('details-form');
    if (detailsForm) detailsForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const changes = {};
      for (const field of Object.keys(DETAIL_FIELDS)) {
        const input = detailsForm.elements[field];
        if (!input) continue;
        const value = input.value.trim();
        if ((local.details[field] || '') !== value) changes[field] = value || null;
      }
      if (!Object.keys(changes).length) {
        document.getElementById('details-error').textContent = t('details_unchanged');
        return;
      }
      // Based on the version the phone read: the server applies it unless someone changed these same fields since.
      await FS.outbox.queueEdit(job.id, job.version, changes);
      detailsForm.reset(); // sent: drawn again from the phone's copy, not kept as typing
      syncNow();
      await renderJob(job.id);
    });
    onTextOp('note-form', 'note', 'note', job, () => true);
    onTextOp('urge-form', 'urge', 'note', job, () => true);
    onTextOp('hand-back-form', 'hand_back', 'reason', job, () => confirm(t('confirm_hand_back')));
  }

  /* A form whose one text field becomes an op's payload (note, urge, hand back): queued, then synced. */
  function onTextOp(formId, type, field, job, confirmed) {
    const form = document.getElementById(formId);
    if (!form) return;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const text = form[field].value.trim();
      if (form[field].required && !text) return;
      if (!confirmed()) return;
      await FS.outbox.enqueue(type, job.id, { [field]: text || null });
      syncNow();
      // Drawn again with this form empty; what is typed in the others stays.
      await redrawKeepingText(() => renderJob(job.id), form[field].id);
    });
  }

  // ---------------------------------------------------------------- routing

  async function route() {
    translatePage();
    await renderSyncBar();
    const s = await session();
    const hash = location.hash || '#/jobs';
    if (hash.startsWith('#/outbox')) return FS.outboxView.render(view, { esc, fmt, syncNow });
    if (!sessionUsable(s)) {
      // Offline with an expired session: unsent work stays; the engineer logs in once back online.
      return renderLogin(s && s.token ? t('session_expired') : '');
    }
    if (hash.startsWith('#/login')) location.hash = '#/jobs';
    let match = hash.match(/^#\/job\/(\d+)/);
    if (match) return renderJob(Number(match[1]));
    match = hash.match(/^#\/visit\/(\d+)/);
    if (match) return FS.visit.render(view, Number(match[1]), { esc, fmt, syncNow });
    if (hash.startsWith('#/pool')) return FS.pool.render(view, { esc, fmt, syncNow, rejectedCard, fetch: true });
    if (hash.startsWith('#/returned')) return FS.settle.render(view, { esc, fmt, syncNow });
    if (hash.startsWith('#/statements')) return FS.settle.renderStatements(view, { esc });
    return renderJobs();
  }

  /* Redraw after a sync or a change made elsewhere, unless the engineer is typing a visit. What the engineer
   * is typing in a note, urge or hand-back form on the redrawn page is kept, with the cursor. */
  async function refresh() {
    await renderSyncBar();
    if (location.hash.startsWith('#/pool')) {
      await FS.pool.render(view, { esc, fmt, syncNow, rejectedCard, fetch: false });
    } else if (!location.hash.startsWith('#/visit/') && !location.hash.startsWith('#/returned')) {
      // Not the visit form nor a returned visit being corrected: forms the engineer fills in at length (lines added,
      // items chosen) that a redraw would reset; they are drawn again when the engineer sends or leaves them.
      await redrawKeepingText(route);
    }
  }

  /* Run draw() (which replaces the view through paint()), the field *cleared* emptied first (a form just sent). */
  async function redrawKeepingText(draw, cleared) {
    const el = cleared && document.getElementById(cleared);
    if (el && view.contains(el)) el.value = el.defaultValue;
    await draw();
  }

  /* Replace the view with *html*, keeping what the engineer typed in its text fields (what differs from the value
   * a field was drawn with) and the cursor. Read and put back in one go, with no await between: a redraw started
   * by a sync never loses a keystroke made while it was being prepared. */
  // Fields whose typed value a redraw keeps: text of every kind, the date and time pickers (a booking form), and
  // the choice made in a list.
  const KEPT_FIELDS = 'textarea, input:not([type]), input[type=text], input[type=tel], input[type=date], '
    + 'input[type=time], input[type=number], select';

  /* The value a field was drawn with: a list's option marked selected (else its first), a text's default. */
  function drawnValue(el) {
    if (el.tagName !== 'SELECT') return el.defaultValue;
    const chosen = Array.from(el.options).find((o) => o.defaultSelected) || el.options[0];
    return chosen ? chosen.value : '';
  }

  /* A field's key across redraws: its id, or its form's id and its name. */
  function fieldKey(el) {
    if (el.id) return '#' + el.id;
    return el.form && el.form.id && el.name ? `#${el.form.id} [name="${el.name}"]` : null;
  }

  function paint(html) {
    const typed = {};
    view.querySelectorAll(KEPT_FIELDS).forEach((el) => {
      const key = fieldKey(el);
      if (key && el.value !== drawnValue(el)) typed[key] = el.value;
    });
    const active = document.activeElement;
    const focus = active && active.id && view.contains(active)
      ? { id: active.id, start: active.selectionStart, end: active.selectionEnd } : null;
    view.innerHTML = html;
    Object.entries(typed).forEach(([key, value]) => {
      const el = view.querySelector(key);
      if (el) el.value = value;
    });
    const el = focus && document.getElementById(focus.id);
    if (el && view.contains(el)) {
      el.focus();
      if (typeof focus.start === 'number' && el.setSelectionRange) el.setSelectionRange(focus.start, focus.end);
    }
  }

  // ---------------------------------------------------------------- start

  document.getElementById('lang').addEventListener('click', () => {
    FS.i18n.setLang(FS.i18n.lang === 'en' ? 'zh' : 'en');
    route();
  });
  window.addEventListener('hashchange', route);
  window.addEventListener('online', () => syncNow().then(() => FS.prime.startIfDue(false)));
  window.addEventListener('offline', () => renderSyncBar());
  FS.outbox.onChange(() => { if (!syncing) refresh(); });
  // Priming's progress only moves the sync bar; the screens redraw once a run ends (FS.outbox.notify).
  FS.prime.onProgress(() => renderSyncBar());
  // Each sync round also primes the offline set when it is due (each morning) or resumes an interrupted priming.
  setInterval(() => syncNow().then(() => FS.prime.startIfDue(false)), SYNC_EVERY_MS);

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch((err) => console.warn('service worker', err));
  }
  // Ask the browser to keep a week of queued work even under storage pressure; watch how full the storage gets.
  FS.outboxView.askPersist();
  checkStorage().then(renderSyncBar);
  setInterval(() => checkStorage().then(renderSyncBar), 5 * 60 * 1000);

  FS.app = { route, syncNow, renderSyncBar, esc };
  FS.i18n.setLang(FS.i18n.lang);
  route().then(() => syncNow()).then(() => FS.prime.startIfDue(false));
})(self.FS = self.FS || {});
