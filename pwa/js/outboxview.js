/* The outbox screen: every change waiting on the phone or refused by the server, each with why and what resolves it
 * (send now, log in again, retry, discard after a confirmation, resolve a conflict); how much of the phone's storage
 * the app uses, with a warning before the browser could run out of room and a request to keep the data for good. */
(function (FS) {
  'use strict';

  const t = FS.t;
  // Warn the engineer before the browser's quota is near: past this share of it, photos may no longer fit.
  const STORAGE_WARN_SHARE = 0.8;

  function opLabel(type) {
    return t(type === 'visit' ? 'record_visit' : type === 'edit' ? 'edit_job' : type);
  }

  function fieldLabel(field) {
    return t('field_' + field);
  }

  function megabytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(1);
  }

  /* The browser's estimate of the app's storage, and whether it is kept for good (never evicted under pressure). */
  async function storageState() {
    const state = { supported: false, usage: 0, quota: 0, share: 0, persisted: null };
    if (!(self.navigator && navigator.storage && navigator.storage.estimate)) return state;
    try {
      const estimate = await navigator.storage.estimate();
      state.supported = true;
      state.usage = estimate.usage || 0;
      state.quota = estimate.quota || 0;
      state.share = state.quota ? state.usage / state.quota : 0;
    } catch (err) {
      return state;
    }
    if (navigator.storage.persisted) {
      try {
        state.persisted = await navigator.storage.persisted();
      } catch (err) {
        state.persisted = null;
      }
    }
    state.low = state.share > STORAGE_WARN_SHARE;
    return state;
  }

  /* Ask the browser to keep the app's data under storage pressure (Chrome grants it to installed apps). */
  async function askPersist() {
    if (!(self.navigator && navigator.storage && navigator.storage.persist)) return false;
    try {
      return await navigator.storage.persist();
    } catch (err) {
      return false;
    }
  }

  function storageCard(state, esc) {
    if (!state.supported) return `<div class="card" id="storage"><p class="muted">${esc(t('storage_unknown'))}</p></div>`;
    const percent = Math.round(state.share * 100);
    return `<div class="card${state.low ? ' rejected' : ''}" id="storage" data-share="${percent}" data-low="${state.low ? 1 : 0}">
      <h3>${esc(t('storage'))}</h3>
      <p id="storage-use">${esc(t('storage_use', { used: megabytes(state.usage), quota: megabytes(state.quota), percent }))}</p>
      ${state.low ? `<p class="error" id="storage-warning">${esc(t('storage_low'))}</p>` : ''}
      <p class="muted" id="storage-persisted">${esc(state.persisted ? t('storage_persisted') : t('storage_not_persisted'))}</p>
      ${state.persisted ? '' : `<div class="actions"><button type="button" id="storage-persist">${esc(t('storage_keep'))}</button></div>`}
    </div>`;
  }

  /* The choice a conflict offers: each field with the engineer's value, the server's, and who changed it when. */
  function conflictChoice(op, helpers) {
    const { esc, fmt } = helpers;
    const fields = (op.error && op.error.fields) || {};
    const rows = Object.entries(fields).filter(([, v]) => v && typeof v === 'object').map(([field, v]) => `
      <div class="conflict-field" data-field="${esc(field)}">
        <strong>${esc(fieldLabel(field))}</strong>
        <div><span class="muted">${esc(t('conflict_mine'))}</span> <span class="mine">${esc(v.mine === null || v.mine === undefined ? '—' : v.mine)}</span></div>
        <div><span class="muted">${esc(t('conflict_theirs', { by: v.by || '?', at: fmt(v.at) }))}</span> <span class="theirs">${esc(v.theirs === null || v.theirs === undefined ? '—' : v.theirs)}</span></div>
      </div>`).join('');
    return `<div class="conflict">${rows}
      <div class="actions">
        <button type="button" class="primary" data-keep-mine="${op.seq}">${esc(t('keep_mine'))}</button>
        <button type="button" data-take-theirs="${op.seq}">${esc(t('take_theirs'))}</button>
      </div></div>`;
  }

  /* A refused op: the server's reason and the way out (shared with the job page and the claim pool). */
  function rejectedCard(op, helpers) {
    const { esc } = helpers;
    const error = op.error || {};
    const conflict = error.code === 'conflict' && op.type === 'edit';
    const fields = conflict ? '' : Object.entries(error.fields || {}).map(([k, v]) => `${esc(k)}: ${esc(typeof v === 'object' ? JSON.stringify(v) : v)}`).join('; ');
    return `<div class="card rejected" data-rejected-op="${esc(op.op_id)}" data-seq="${op.seq}">
      <strong>${esc(t('refused'))}: ${esc(opLabel(op.type))}</strong>
      <p class="error reject-reason" data-code="${esc(error.code)}">${esc(error.message)}${fields ? ' — ' + fields : ''}</p>
      ${error.advice ? `<p class="muted">${esc(error.advice)}</p>` : ''}
      ${conflict ? conflictChoice(op, helpers) : `<div class="actions">
        <button type="button" data-retry-op="${op.seq}">${esc(t('retry'))}</button>
        <button type="button" data-discard="${op.seq}" class="danger">${esc(t('discard'))}</button></div>`}
    </div>`;
  }

  /* Wire the buttons of rejectedCard()s inside *root*; *after* redraws. */
  function wireRejected(root, after) {
    root.querySelectorAll('[data-discard]').forEach((button) => button.addEventListener('click', async () => {
      if (!confirm(t('confirm_discard'))) return;
      await FS.outbox.discard(Number(button.dataset.discard));
      await after();
    }));
    root.querySelectorAll('[data-retry-op]').forEach((button) => button.addEventListener('click', async () => {
      await FS.outbox.retryOp(Number(button.dataset.retryOp));
      await after(true);
    }));
    root.querySelectorAll('[data-keep-mine]').forEach((button) => button.addEventListener('click', async () => {
      await FS.outbox.resolveConflict(Number(button.dataset.keepMine), 'mine');
      await after(true);
    }));
    root.querySelectorAll('[data-take-theirs]').forEach((button) => button.addEventListener('click', async () => {
      await FS.outbox.resolveConflict(Number(button.dataset.takeTheirs), 'theirs');
      await after();
    }));
  }

  /* Why a waiting op has not gone yet, and the action that moves it. */
  function waitingReason(op, context) {
    if (context.heldBy.has(op.request_id)) return { code: 'held', text: t('wait_held'), action: 'show_refused' };
    if (context.expired) return { code: 'session', text: t('wait_session'), action: 'login' };
    if (!context.online) return { code: 'offline', text: t('wait_offline'), action: null };
    const error = context.status.last_error;
    if (error) {
      const next = context.status.next_at ? t('wait_retry_at', { time: context.fmt(context.status.next_at) }) : '';
      return { code: 'error', text: t('wait_error', { message: error.message }) + next, action: 'send' };
    }
    return { code: 'queued', text: t('wait_queued'), action: 'send' };
  }

  async function render(view, helpers) {
    const { esc, fmt, syncNow } = helpers;
    const ops = await FS.store.listOps();
    const session = await FS.store.getMeta('session');
    const status = await FS.store.getMeta('status', {});
    const jobs = new Map((await FS.store.allJobs()).map((job) => [job.id, job]));
    const expired = !session || !session.token || session.expired || (session.expires_at && Date.parse(session.expires_at) <= Date.now());
    const heldBy = new Set(ops.filter((op) => op.status === 'rejected' && !FS.outbox.isConflict(op)).map((op) => op.request_id));
    const context = { expired, online: FS.outbox.online(), status, heldBy, fmt };
    const waiting = ops.filter((op) => op.status !== 'rejected');
    const refused = ops.filter((op) => op.status === 'rejected');

    let html = `<p><a href="#/jobs">‹ ${esc(t('back'))}</a></p><h2>${esc(t('outbox'))}</h2>`;
    if (expired && session && session.token) {
      html += `<div class="banner" id="outbox-login">${esc(t('session_expired'))}
        <div class="actions"><a class="button primary" href="#/login" id="login-again">${esc(t('login_again'))}</a></div></div>`;
    }
    html += `<h3>${esc(t('outbox_refused', { n: refused.length }))}</h3>`;
    html += refused.length ? refused.map((op) => {
      const job = jobs.get(op.request_id);
      return `<p class="muted">${esc(job ? job.number : '#' + op.request_id)} · ${esc(fmt(op.client_time))}</p>` + rejectedCard(op, helpers);
    }).join('') : `<p class="muted">${esc(t('outbox_none_refused'))}</p>`;
    html += `<h3>${esc(t('outbox_waiting', { n: waiting.length }))}</h3>`;
    for (const op of waiting) {
      const job = jobs.get(op.request_id);
      const why = waitingReason(op, context);
      const progress = await FS.outbox.uploadProgress(op);
      html += `<div class="card pending" data-waiting-op="${esc(op.op_id)}" data-seq="${op.seq}" data-reason="${why.code}">
        <div class="row"><strong class="grow">${esc(opLabel(op.type))}</strong><span class="muted">${esc(job ? job.number : '#' + op.request_id)}</span></div>
        <div class="muted">${esc(t('made_at', { time: fmt(op.client_time) }))}</div>
        ${progress !== null ? `<div class="muted upload-progress" data-progress="${Math.round(progress * 100)}">${esc(t('upload_progress', { percent: Math.round(progress * 100) }))}</div>` : ''}
        <p class="wait-reason">${esc(why.text)}</p>
        <div class="actions">
          ${why.action === 'send' ? `<button type="button" data-send-now ${context.online ? '' : 'disabled'}>${esc(t('sync_now'))}</button>` : ''}
          ${why.action === 'login' ? `<a class="button" href="#/login">${esc(t('login_again'))}</a>` : ''}
          ${why.action === 'show_refused' ? `<a class="button" href="#/job/${op.request_id}">${esc(t('open_job'))}</a>` : ''}
          <button type="button" data-discard="${op.seq}" class="danger">${esc(t('discard'))}</button>
        </div></div>`;
    }
    if (!waiting.length) html += `<p class="muted" id="outbox-empty">${esc(t('outbox_none_waiting'))}</p>`;
    html += storageCard(await storageState(), esc);
    html += await FS.prime.card(esc, fmt);
    if (!location.hash.startsWith('#/outbox')) return; // left while the outbox was read
    view.innerHTML = html;

    const redraw = async (send) => {
      if (send) await syncNow();
      if (location.hash.startsWith('#/outbox')) await render(view, helpers);
    };
    wireRejected(view, redraw);
    view.querySelectorAll('[data-send-now]').forEach((button) => button.addEventListener('click', () => redraw(true)));
    const again = document.getElementById('prime-again');
    if (again) again.addEventListener('click', async () => {
      again.disabled = true;
      FS.prime.startIfDue(true);
      await redraw();
    });
    const persist = document.getElementById('storage-persist');
    if (persist) persist.addEventListener('click', async () => {
      await askPersist();
      await redraw();
    });
  }

  FS.outboxView = { render, rejectedCard, wireRejected, storageState, askPersist, STORAGE_WARN_SHARE };
})(self.FS = self.FS || {});
