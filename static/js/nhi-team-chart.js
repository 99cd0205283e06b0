// Per-team NHI hygiene (visibility summary page).
(function () {
  const canvas = document.getElementById("nhi-team-chart");
  const source = document.getElementById("nhi-team-data");
  if (!canvas || !source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: "% rotation overdue", data: data.overdue, backgroundColor: "#dc3545" },
        { label: "% never rotated", data: data.never, backgroundColor: "#f0ad4e" },
        { label: "% stale", data: data.stale, backgroundColor: "#6c757d" },
        { label: "% orphaned", data: data.orphaned, backgroundColor: "#b02a37" },
      ],
    },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
      scales: { y: { beginAtZero: true, max: 100, ticks: { callback: (v) => v + "%" } } },
      plugins: { legend: { position: "bottom" } } },
  });
})();
