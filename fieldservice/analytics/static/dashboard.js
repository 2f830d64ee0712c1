// Draw each table's chart from the numbers the page already shows (Chart.js, vendored).
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Chart === "undefined") return;
  for (const canvas of document.querySelectorAll("canvas.analytics-chart")) {
    // Bars: the twenty largest (rows come sorted); a trend line: every day.
    const limit = canvas.dataset.kind === "line" ? undefined : 20;
    const labels = JSON.parse(canvas.dataset.labels).slice(0, limit);
    const values = JSON.parse(canvas.dataset.values).slice(0, limit);
    canvas.chart = new Chart(canvas, {
      type: canvas.dataset.kind,
      data: { labels, datasets: [{ label: canvas.dataset.series, data: values, backgroundColor: "#2563eb99", borderColor: "#2563eb" }] },
      options: { responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } } },
    });
  }
});
