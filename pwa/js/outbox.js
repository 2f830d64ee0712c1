/* The outbox: every change the engineer makes is an op with a phone-made op_id, stored first, sent later in order.
 * An op's photos and signatures (its blob_ids: a job photo, a visit's photos and signature) upload first, in chunks
 * that resume after a dropped connection (PUT /api/v1/uploads/<id>), then the op (POST /api/v1/sync) names them by id.
 * A network failure keeps the op at the front and retries with backoff; the server's `duplicate` is a success;
 * a rejected op stays on the phone with the server's reason until the engineer retries or discards it.
 * Nothing here expires: an op and its photos stay on the phone (a week offline and more, across app updates) until
 * the server answered it or the engineer discarded it; a session that ended (401) keeps them for the next log-in.
 * (Workbox's background-sync queue, whose maxRetentionTime would drop requests, is deliberately not used.)
 * Shared by the page and the service worker (Background Sync). */
(function (FS) {
  'use strict';

  const BATCH = 50;
  // Visits queued by app versions before chunked uploads carry their photos as data-URLs: keep one request well
  // under the server's body limit.
  const MAX_BATCH_CHARS = 8 * 1024 * 1024;
  const BACKOFF_MIN_MS = 5000;
  const BACKOFF_MAX_MS = 5 * 60 * 1000;
  // The reference data (van stock, problem types, repair items, returned visits, statements) rides on a pull every
  // few minutes, and at once after ops were sent (a visit uses parts from the van), on the first pull, and when the
  // engineer taps "sync now": the rest of the time a pull is only the jobs, a fraction of the server's work.
  const REFERENCE_EVERY_MS = 5 * 60 * 1000;
  const RENEW_AFTER_MS = 12 * 3600 * 1000;
  const SYNC_TAG = 'fs-outbox';
  // Photos go up in pieces this big: a dropped connection costs at most one piece.
  const UPLOAD_CHUNK = 64 * 1024;

  const listeners = new Set();
  const channel = 'BroadcastChannel' in self ? new BroadcastChannel('fieldservice') : null;
  if (channel) channel.onmessage = () => listeners.forEach((fn) => fn());

  /* Tell this context and the others (tabs, service worker) that the outbox or the jobs changed. */
  function notify() {
    listeners.forEach((fn) => fn());
    if (channel) channel.postMessage({ type: 'changed' });
  }

  function onChange(fn) {
    listeners.add(fn);
  }

  function uuid() {
    if (self.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function online() {
    return self.navigator.onLine !== false;
  }

  /* Record a change: the op (and its blobs) are on the phone before anything is sent. */
  async function enqueue(type, requestId, payload, blobs, options) {
    const op = {
      op_id: uuid(),
      type,
      request_id: Number(requestId),
      payload: payload || {},
      client_time: new Date().toISOString(),
      status: 'pending',
      blob_ids: (options && options.blobIds) || (blobs || []).map((b) => b.id),
    };
    op.seq = await FS.store.addOp(op, blobs, options && options.draftOf);
    notify();
    requestBackgroundSync();
    return op;
  }

  /* Ask the browser to run the service worker's sync when the network is back, even if the app is closed. */
  async function requestBackgroundSync() {
    try {
      if (self.registration && self.registration.sync) return; // inside the worker: nothing to register
      if (!('serviceWorker' in navigator)) return;
      const reg = await navigator.serviceWorker.ready;
      if (reg.sync) await reg.sync.register(SYNC_TAG);
    } catch (err) {
      // Background Sync is missing or refused: the page's timer and the worker's start-up replay cover it.
    }
  }

  /* Page and worker may both try to send: one at a time (the server would answer duplicate anyway). */
  async function withLock(fn) {
    if (self.navigator.locks) return self.navigator.locks.request('fs-outbox', fn);
    return fn();
  }

  function isRefusal(err) {
    // A refusal of this very change; 401 means the session ended, which is not the op's fault.
    return err instanceof FS.api.ApiError && !err.transient && err.status !== 401;
  }

  /* Send one photo or signature in chunks (PUT /api/v1/uploads/<id> with Content-Range), with its kind, so the server
   * keeps it as a photo or as a signature. How far it got is kept on the phone; after a dropped connection the server
   * says how many bytes it holds and the rest follows from there. */
  async function uploadBlob(record) {
    const size = record.blob.size;
    let state = await FS.store.getUpload(record.id);
    const query = `?request_id=${encodeURIComponent(record.request_id)}&kind=${encodeURIComponent(record.kind)}`;
    const path = '/api/v1/uploads/' + encodeURIComponent(record.id);
    let offset = 0;
    if (state) {
      // Started before: the server's count is the truth (a chunk may have arrived without its answer).
      const answer = await FS.api.get(path);
      if (answer.complete) return;
      offset = answer.offset;
    } else {
      state = { id: record.id, request_id: record.request_id, size, offset: 0 };
    }
    for (;;) {
      const end = Math.min(size, offset + UPLOAD_CHUNK);
      let answer;
      try {
        answer = await FS.api.put(path + query, record.blob.slice(offset, end), {
          headers: { 'Content-Type': record.content_type, 'Content-Range': `bytes ${offset}-${end - 1}/${size}` },
          timeout: 60000,
        });
      } catch (err) {
        if (err instanceof FS.api.ApiError && err.error.code === 'upload_offset' && err.error.fields) {
          offset = Number(err.error.fields.offset) || 0;
          continue;
        }
        throw err;
      }
      offset = answer.offset;
      state.offset = offset;
      await FS.store.putUpload(state);
      notify();
      if (answer.complete) return;
    }
  }

  async function uploadBlobs(op) {
    for (const id of op.blob_ids || []) {
      const record = await FS.store.getBlob(id);
      if (!record) {
        throw new FS.api.ApiError(0, { code: 'blob_missing', message: 'A photo or signature of this change is missing on the phone.' });
      }
      if (record.uploaded) continue;
      await uploadBlob(record);
      record.uploaded = true;
      await FS.store.putBlob(record);
      await FS.store.deleteUpload(id);
    }
  }

  /* How much of an op's photos the server holds, 0 to 1 (for the outbox screen). */
  async function uploadProgress(op) {
    let done = 0;
    let total = 0;
    for (const id of op.blob_ids || []) {
      const record = await FS.store.getBlob(id);
      if (!record) continue;
      const size = record.blob ? record.blob.size : 0;
      total += size;
      if (record.uploaded) done += size;
      else done += ((await FS.store.getUpload(id)) || { offset: 0 }).offset;
    }
    return total ? done / total : null;
  }

  function isConflict(op) {
    return op.type === 'edit' && op.error && op.error.code === 'conflict';
  }

  async function markRejected(op, error) {
    op.status = 'rejected';
    op.error = error || { code: 'rejected', message: 'Refused by the server.' };
    op.rejected_at = new Date().toISOString();
    await FS.store.putOp(op);
  }

  function wire(op) {
    return { op_id: op.op_id, type: op.type, request_id: op.request_id, payload: op.payload, client_time: op.client_time };
  }

  async function applyResults(batch, results) {
    const byId = new Map((results || []).map((r) => [r.op_id, r]));
    let answered = 0;
    for (const op of batch) {
      const result = byId.get(op.op_id);
      if (!result) continue; // not answered: stays in the outbox and goes in the next round
      answered += 1;
      // A replay of an op the server once rejected answers `duplicate`: it is still a rejection for the engineer.
      const rejected = result.status === 'rejected' || (result.status === 'duplicate' && result.original_status === 'rejected');
      if (rejected) await markRejected(op, result.error);
      else await FS.store.deleteOp(op.seq);
    }
    return answered;
  }

  /* Send every sendable op, oldest first; ops of a job behind one of its rejected ops wait for the engineer. */
  async function flushLocked() {
    let sent = 0;
    let batchSize = BATCH;
    for (;;) {
      const session = await FS.store.getMeta('session');
      if (!session || !session.token || session.expired) return { sent, state: 'no_session' };
      const ops = await FS.store.listOps();
      const held = new Set();
      const batch = [];
      let chars = 0;
      for (const op of ops) {
        if (op.status === 'rejected') {
          // A later change of the job may depend on a refused one; a conflict of details blocks nothing.
          if (!isConflict(op)) held.add(op.request_id);
          continue;
        }
        if (held.has(op.request_id)) continue;
        try {
          await uploadBlobs(op);
        } catch (err) {
          if (!isRefusal(err)) throw err;
          await markRejected(op, err.error);
          held.add(op.request_id);
          notify();
          continue;
        }
        chars += JSON.stringify(op.payload).length;
        if (batch.length && chars > MAX_BATCH_CHARS) break;
        batch.push(op);
        if (batch.length >= batchSize) break;
      }
      if (!batch.length) return { sent, state: 'done' };
      for (const op of batch) {
        if (op.sent_at) continue;
        // Once sent, an op never changes (the server may hold it though its answer got lost).
        op.sent_at = new Date().toISOString();
        await FS.store.putOp(op);
      }
      let answer;
      try {
        answer = await FS.api.post('/api/v1/sync', { ops: batch.map(wire) }, { timeout: 60000 });
      } catch (err) {
        if (!isRefusal(err)) throw err;
        // The server refused the batch as a whole: send one op at a time to find the one it objects to.
        if (batch.length > 1) {
          batchSize = 1;
          continue;
        }
        await markRejected(batch[0], err.error);
        notify();
        continue;
      }
      const answered = await applyResults(batch, answer.results);
      sent += answered;
      notify();
      if (answered < batch.length) return { sent, state: 'partial' };
    }
  }

  function flush() {
    return withLock(flushLocked);
  }

  /* Fetch what changed on the server since the last pull. */
  async function pull(withReference) {
    const cursor = await FS.store.getMeta('cursor');
    const referenceAt = await FS.store.getMeta('reference_at');
    const reference = withReference || !cursor || !referenceAt || Date.now() - Date.parse(referenceAt) >= REFERENCE_EVERY_MS;
    const query = [cursor ? 'since=' + encodeURIComponent(cursor) : null, reference ? null : 'reference=false'].filter(Boolean);
    let answer;
    try {
      answer = await FS.api.get('/api/v1/sync' + (query.length ? '?' + query.join('&') : ''));
    } catch (err) {
      if (cursor && err instanceof FS.api.ApiError && err.status === 422) {
        // The server no longer understands our cursor (e.g. its key changed): start over with a full pull.
        await FS.store.deleteMeta('cursor');
        return pull(withReference);
      }
      throw err;
    }
    await FS.store.applyPull(answer.jobs || [], answer.removed || [], !cursor);
    for (const [key, items] of Object.entries(answer.reference || {})) {
      await FS.store.putReference(key, items);
    }
    if (answer.reference) await FS.store.setMeta('reference_at', new Date().toISOString());
    await FS.store.setMeta('cursor', answer.cursor);
    notify();
    return answer;
  }

  /* The knowledge entries for the engineer's skills, for diagnosing with no signal: the first call fetches them
   * all, later ones send the server's cursor back and get only the entries changed since, and the ids to drop. */
  async function refreshReference(force) {
    const cursor = force ? null : await FS.store.getMeta('knowledge_cursor');
    let answer;
    try {
      answer = await FS.api.get('/api/v1/knowledge/offline' + (cursor ? '?since=' + encodeURIComponent(cursor) : ''));
    } catch (err) {
      if (!(err instanceof FS.api.ApiError) || err.transient) throw err;
      if (cursor && err.status === 422) {
        // The server no longer reads our cursor: start over with a full copy.
        await FS.store.deleteMeta('knowledge_cursor');
        return refreshReference(true);
      }
      // No knowledge base on this server (404) or not for this role: the engineer writes faults by hand.
      return;
    }
    await FS.store.mergeReference('knowledge', answer.entries || [], answer.removed || [], !cursor);
    await FS.store.dropJobHints(answer.removed || []);
    await FS.store.setMeta('knowledge_cursor', answer.cursor);
  }

  /* The open jobs this engineer may claim, kept for reading offline; on a network error the last list stays. */
  async function refreshPool() {
    if (!online()) return;
    try {
      const answer = await FS.api.get('/api/v1/dispatch/pool?per_page=100');
      await FS.store.putReference('pool', answer.items || []);
      await FS.store.setMeta('pool_at', new Date().toISOString());
    } catch (err) {
      if (!(err instanceof FS.api.ApiError) || err.transient) return;
      // Not an engineer with a profile, or no dispatch on this server: nothing to claim.
      await FS.store.putReference('pool', []);
      await FS.store.setMeta('pool_at', null);
    }
  }

  /* Swap the token for a fresh one while online, so a phone that syncs now and then never gets logged out. */
  async function renewIfDue() {
    const session = await FS.store.getMeta('session');
    if (!session || !session.token || session.expired) return;
    if (session.renewed_at && Date.now() - Date.parse(session.renewed_at) < RENEW_AFTER_MS) return;
    const answer = await FS.api.post('/api/v1/auth/renew', {});
    session.token = answer.token;
    session.expires_at = answer.expires_at;
    session.renewed_at = new Date().toISOString();
    await FS.store.setMeta('session', session);
  }

  function describe(err) {
    if (err instanceof FS.api.ApiError) return { code: err.error.code, message: err.error.message, status: err.status };
    if (err instanceof FS.api.NetworkError) return { code: 'network', message: err.message };
    return { code: 'error', message: String((err && err.message) || err) };
  }

  /* One sync round: renew the token, send the outbox, pull changes, refresh reference data. */
  async function syncNow(options) {
    options = options || {};
    if (!online()) return { state: 'offline' };
    const session = await FS.store.getMeta('session');
    if (!session || !session.token || session.expired) return { state: 'no_session' };
    const status = await FS.store.getMeta('status', {});
    status.last_attempt = new Date().toISOString();
    let result;
    try {
      await renewIfDue();
      const flushed = await flush();
      await pull(options.freshReference || flushed.sent > 0);
      await refreshReference(options.forceReference);
      await refreshPool();
      Object.assign(status, { last_sync: new Date().toISOString(), last_error: null, failures: 0, next_at: null });
      result = { state: 'ok', sent: flushed.sent };
    } catch (err) {
      status.failures = (status.failures || 0) + 1;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (status.failures - 1));
      status.next_at = new Date(Date.now() + delay).toISOString();
      status.last_error = describe(err);
      if (err instanceof FS.api.ApiError && err.status === 401) {
        session.expired = true;
        await FS.store.setMeta('session', session);
      }
      result = { state: 'error', error: status.last_error };
    }
    await FS.store.setMeta('status', status);
    notify();
    return result;
  }

  /* Put a job's rejected ops back in line under new op_ids (the server remembers the old ones as rejected). */
  async function retry(requestId) {
    for (const op of await FS.store.opsForRequest(requestId)) {
      if (op.status !== 'rejected') continue;
      op.previous_errors = (op.previous_errors || []).concat([op.error]);
      op.op_id = uuid();
      op.status = 'pending';
      op.error = null;
      op.sent_at = null;
      await FS.store.putOp(op);
    }
    await FS.store.setMeta('status', Object.assign(await FS.store.getMeta('status', {}), { next_at: null }));
    notify();
    requestBackgroundSync();
  }

  /* Put one rejected op back in line under a new op_id (the engineer fixed what the server objected to). */
  async function retryOp(seq) {
    const op = await FS.store.getOp(seq);
    if (!op || op.status !== 'rejected') return;
    op.previous_errors = (op.previous_errors || []).concat([op.error]);
    op.op_id = uuid();
    op.status = 'pending';
    op.error = null;
    op.sent_at = null;
    await FS.store.putOp(op);
    await FS.store.setMeta('status', Object.assign(await FS.store.getMeta('status', {}), { next_at: null }));
    notify();
    requestBackgroundSync();
  }

  /* Queue an edit of a job's fields (merge by field on the server): *changes* against the version the phone read.
   * Edits of the same job not sent yet are one op: the server would otherwise see the second one as a change of
   * fields the first one changed since that version. */
  async function queueEdit(requestId, baseVersion, changes) {
    const waiting = (await FS.store.opsForRequest(requestId))
      .filter((op) => op.type === 'edit' && op.status === 'pending' && !op.sent_at);
    if (waiting.length) {
      const op = waiting[waiting.length - 1];
      op.payload.changes = Object.assign({}, op.payload.changes, changes);
      op.client_time = new Date().toISOString();
      await FS.store.putOp(op);
      notify();
      requestBackgroundSync();
      return op;
    }
    return enqueue('edit', requestId, { base_version: baseVersion, changes });
  }

  /* A conflict (the same field changed on the server since our version): keep mine sends the same changes again
   * based on the version the server reported, in the same place in line; take theirs drops the op and keeps the
   * server's values on the phone until the next pull brings them anyway. */
  async function resolveConflict(seq, choice) {
    const op = await FS.store.getOp(seq);
    if (!op || op.status !== 'rejected' || !op.error || op.error.code !== 'conflict') return;
    const fields = op.error.fields || {};
    const version = Math.max(0, ...Object.values(fields).map((f) => Number(f && f.version) || 0));
    if (choice === 'mine') {
      op.previous_errors = (op.previous_errors || []).concat([op.error]);
      op.payload = Object.assign({}, op.payload, { base_version: version || op.payload.base_version });
      op.op_id = uuid();
      op.status = 'pending';
      op.error = null;
      op.sent_at = null;
      await FS.store.putOp(op);
      requestBackgroundSync();
    } else {
      const job = await FS.store.getJob(op.request_id);
      if (job) {
        for (const [field, value] of Object.entries(fields)) {
          if (value && typeof value === 'object' && 'theirs' in value) job[field] = value.theirs;
        }
        if (version > (job.version || 0)) job.version = version;
        await FS.store.putJob(job);
      }
      await FS.store.deleteOp(seq);
    }
    notify();
  }

  /* Give up one op for good: the engineer decided so, after reading the server's reason. */
  async function discard(seq) {
    const op = await FS.store.getOp(seq);
    if (!op) return;
    await FS.store.deleteOp(seq);
    await FS.store.forgetJobIfRemoved(op.request_id);
    notify();
  }

  FS.outbox = {
    SYNC_TAG, uuid, online, enqueue, isConflict, flush, pull, syncNow, retry, discard, notify, onChange,
    refreshReference, refreshPool, requestBackgroundSync, uploadProgress, retryOp, queueEdit, resolveConflict,
  };
})(self.FS = self.FS || {});
