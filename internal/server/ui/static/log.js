// Follows a running step's log: appends the lines the server sends after
// those the page shows (escaped as text), and stops at the end.
(function () {
  var log = document.getElementById("log");
  if (!log || !log.dataset.stream || !window.EventSource) return;
  var state = document.getElementById("log-state");
  var es = new EventSource(log.dataset.stream);
  es.addEventListener("line", function (e) {
    var l = JSON.parse(e.data), span = document.createElement("span");
    span.className = "ln";
    span.id = "L" + l.n;
    span.textContent = l.text + "\n";
    log.appendChild(span);
  });
  es.addEventListener("end", function () {
    es.close();
    if (state) state.textContent = "End of log.";
  });
})();
