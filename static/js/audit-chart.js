// A small chart on an audit page, drawn by Chart.js from a json_script block. The script tag
// names its canvas, its data and its kind: data-canvas, data-source, data-kind (doughnut | bar).
(function () {
  const options = document.currentScript.dataset;
  const canvas = document.getElementById(options.canvas);
  const source = document.getElementById(options.source);
  if (!canvas || !source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const config = options.kind === "doughnut" ? {
    type: "doughnut",
    data: { labels: data.labels, datasets: [{ data: data.values, backgroundColor: ["#198754", "#0dcaf0", "#dc3545"] }] },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom" } } },
  } : {
    type: "bar",
    data: { labels: data.labels, datasets: [
      { label: "Existed in the window", data: data.total, backgroundColor: "#1f3a5f" },
      { label: "Revoked in the window", data: data.revoked, backgroundColor: "#dc3545" },
      { label: "With admin access", data: data.admin, backgroundColor: "#f0ad4e" },
    ] },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { position: "bottom" } } },
  };
  new Chart(canvas, config);
})();
