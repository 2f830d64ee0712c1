// The schedule board's map (Leaflet, vendored): open requests and engineers as markers, and the route through the
// day of the engineer chosen by name on the board. Names and numbers go into the tooltips as text, never as HTML.
(function () {
  'use strict';
  // The colours are the shared tokens' (core/static/css/tokens.css), read once the page's styles are in.
  const token = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const COLOURS = {
    request: token('--map-request'), booked: token('--map-booked'), engineer: token('--map-engineer'), route: token('--map-route'),
  };

  function text(value) {
    const el = document.createElement('span');
    el.textContent = value;
    return el;
  }

  function init() {
    const holder = document.getElementById('board-map');
    if (!holder || !window.L) return;
    const data = JSON.parse(holder.dataset.map || '{"requests": [], "engineers": []}');
    const map = L.map(holder, { attributionControl: false });
    L.tileLayer(holder.dataset.tiles, { maxZoom: 19 }).addTo(map);
    if (holder.dataset.attribution) {
      L.control.attribution({ prefix: false }).addAttribution(holder.dataset.attribution).addTo(map);
    }
    const points = [];
    data.requests.forEach((r) => {
      const colour = r.booked ? COLOURS.booked : COLOURS.request;
      L.circleMarker(r.at, {
        radius: 7, color: colour, fillColor: colour, fillOpacity: 0.7,
        className: 'map-request' + (r.booked ? ' map-booked' : ''),
      }).bindTooltip(text(r.number + ' ' + r.customer)).addTo(map);
      points.push(r.at);
    });
    data.engineers.forEach((e) => {
      if (!e.at) return;
      L.circleMarker(e.at, {
        radius: 8, color: COLOURS.engineer, fillColor: COLOURS.engineer, fillOpacity: 0.9, className: 'map-engineer',
      }).bindTooltip(text(e.name)).addTo(map);
      points.push(e.at);
    });
    if (points.length) map.fitBounds(points, { padding: [24, 24], maxZoom: 14 });
    else map.setView([31.23, 121.47], 10);

    let route = null;
    function pick(id, button) {
      if (route) { route.remove(); route = null; }
      document.querySelectorAll('.route-pick.selected').forEach((b) => b.classList.remove('selected'));
      if (button) button.classList.add('selected');
      const engineer = data.engineers.find((e) => e.id === id);
      holder.dataset.selected = String(id);
      if (!engineer || engineer.route.length < 2) return;
      route = L.polyline(engineer.route, { color: COLOURS.route, weight: 4, className: 'map-route', interactive: false }).addTo(map);
      map.fitBounds(route.getBounds(), { padding: [30, 30], maxZoom: 15 });
    }
    document.querySelectorAll('.route-pick').forEach((button) => {
      button.addEventListener('click', () => {
        pick(Number(button.dataset.engineer), button);
        holder.scrollIntoView({ block: 'nearest' });
      });
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
