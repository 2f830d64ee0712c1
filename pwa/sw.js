/* The engineers' service worker: precache the app shell (Workbox), serve it offline, and replay the outbox
 * through Background Sync, or on start-up where the browser has no Background Sync. */
/* global workbox, FS */
'use strict';

importScripts('/app/vendor/workbox/workbox-sw.js');
workbox.setConfig({ modulePathPrefix: '/app/vendor/workbox/', debug: false });
importScripts('/app/precache-manifest.js');
importScripts('/app/vendor/idb/idb.umd.js', '/app/js/store.js', '/app/js/api.js', '/app/js/outbox.js');

// Touch the modules now: workbox-sw loads them with importScripts, which only works while the worker starts.
const { precacheAndRoute, cleanupOutdatedCaches, createHandlerBoundToURL } = workbox.precaching;
const { registerRoute, NavigationRoute, setCatchHandler } = workbox.routing;
const { NetworkOnly } = workbox.strategies;

workbox.core.clientsClaim();
cleanupOutdatedCaches();
precacheAndRoute(self.__PRECACHE_MANIFEST, { ignoreURLParametersMatching: [/.*/] });

// Every screen of the app is the same shell (the hash picks the screen): serve it from the precache, offline too.
registerRoute(new NavigationRoute(createHandlerBoundToURL('/app/'), { allowlist: [/^\/app\//] }));
// The API is never cached: the app keeps its own copy of the jobs in IndexedDB.
registerRoute(({ url }) => url.pathname.startsWith('/api/'), new NetworkOnly());
setCatchHandler(async () => Response.error());

self.addEventListener('install', () => self.skipWaiting());

self.addEventListener('sync', (event) => {
  if (event.tag === FS.outbox.SYNC_TAG) {
    event.waitUntil(
      FS.outbox.syncNow().then((result) => {
        // Throwing asks the browser to try again later (with its own backoff).
        if (result.state === 'error' && result.error.code === 'network') throw new Error('offline');
      })
    );
  }
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'sync') event.waitUntil(FS.outbox.syncNow());
});

// Without Background Sync, the worker replays whatever is waiting each time the browser starts it.
if (!('sync' in self.registration)) {
  FS.outbox.syncNow().catch(() => {});
}
