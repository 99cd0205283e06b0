// Stacked bar chart of criteria owned per team, by owner role (home page).
(function () {
  const canvas = document.getElementById("owner-load-chart");
  const source = document.getElementById("owner-load-data");
  if (!canvas || !source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: "Business owner", data: data.business_owner, backgroundColor: "#1f3a5f" },
        { label: "Control owner", data: data.control_owner, backgroundColor: "#3d8bfd" },
        { label: "Evidence owner", data: data.evidence_owner, backgroundColor: "#9ec5fe" },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
})();
