/* Calls to the server with the bearer token (never cookies: a replay hours later must still go through).
 * A classic script shared by the page and the service worker. */
(function (FS) {
  'use strict';

  /* The server answered with an error (API.md's {"error": {code, message, fields}}). */
  class ApiError extends Error {
    constructor(status, error) {
      super((error && error.message) || 'HTTP ' + status);
      this.status = status;
      this.error = error || { code: 'http_' + status, message: 'HTTP ' + status };
    }
    /* Worth trying again later (server trouble, rate limit), as opposed to a refusal of this very change. */
    get transient() {
      return this.status >= 500 || this.status === 429 || this.status === 408;
    }
  }

  /* No answer at all: offline, timed out, or the connection dropped. */
  class NetworkError extends Error {}

  async function token() {
    const session = await FS.store.getMeta('session');
    return session && session.token;
  }

  async function request(method, path, options) {
    options = options || {};
    const headers = Object.assign({ Accept: 'application/json' }, options.headers || {});
    const bearer = options.token || (await token());
    if (bearer) headers.Authorization = 'Bearer ' + bearer;
    let body = options.body;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeout || 20000);
    let response;
    try {
      response = await fetch(path, { method, headers, body, signal: controller.signal, credentials: 'omit', cache: 'no-store' });
    } catch (err) {
      throw new NetworkError(String((err && err.message) || err));
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    const type = response.headers.get('Content-Type') || '';
    if (type.includes('json')) {
      try {
        data = await response.json();
      } catch (err) {
        throw new NetworkError('unreadable answer: ' + err);
      }
    }
    if (!response.ok) throw new ApiError(response.status, data && data.error);
    return data;
  }

  FS.api = {
    ApiError,
    NetworkError,
    request,
    get: (path, options) => request('GET', path, options),
    post: (path, json, options) => request('POST', path, Object.assign({ json }, options || {})),
    put: (path, body, options) => request('PUT', path, Object.assign({ body }, options || {})),
  };
})(self.FS = self.FS || {});
