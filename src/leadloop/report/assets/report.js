// leadloop report: hover values and series toggling for the inline SVG charts.
// Written for this page, no dependencies, no network. Every chart is complete without it.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function number(v) {
    return isFinite(v) ? v.toFixed(3) : "–";  // the report's one format: three decimals
  }

  function tooltipFor(figure) {
    var tip = document.createElement("div");
    tip.className = "tooltip";
    tip.setAttribute("role", "status");
    tip.hidden = true;
    figure.appendChild(tip);
    return tip;
  }

  function show(tip, figure, event, lines) {
    tip.textContent = "";
    lines.forEach(function (text) {
      var row = document.createElement("div");
      row.textContent = text;
      tip.appendChild(row);
    });
    var box = figure.getBoundingClientRect();
    var x = event.clientX - box.left + 14;
    var y = event.clientY - box.top + 14;
    tip.style.left = Math.min(x, Math.max(0, box.width - 240)) + "px";
    tip.style.top = y + "px";
    tip.hidden = false;
  }

  function seriesOf(svg, name) {
    return Array.prototype.filter.call(svg.querySelectorAll(".series"), function (g) {
      return g.getAttribute("data-series") === name;
    });
  }

  function toggle(svg, item) {
    var on = item.getAttribute("aria-pressed") !== "true";
    item.setAttribute("aria-pressed", on ? "true" : "false");
    item.classList.toggle("off", !on);
    seriesOf(svg, item.getAttribute("data-series")).forEach(function (g) {
      g.classList.toggle("hidden", !on);
    });
  }

  function legend(svg) {
    svg.querySelectorAll(".legend-item").forEach(function (item) {
      item.addEventListener("click", function () { toggle(svg, item); });
      item.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          toggle(svg, item);
        }
      });
    });
  }

  function pointIn(svg, event) {
    var point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    return point.matrixTransform(svg.getScreenCTM().inverse());
  }

  function nearest(xs, x) {
    var best = 0;
    for (var i = 1; i < xs.length; i++) {
      if (Math.abs(xs[i] - x) < Math.abs(xs[best] - x)) { best = i; }
    }
    return best;
  }

  function crosshair(svg, data, figure, tip) {
    var plot = data.plot;
    var guide = document.createElementNS(SVG, "g");
    guide.setAttribute("class", "hover");
    svg.appendChild(guide);
    function px(v) { return plot[0] + (v - data.x[0]) / (data.x[1] - data.x[0]) * plot[2]; }
    function py(v) { return plot[1] + plot[3] - (v - data.y[0]) / (data.y[1] - data.y[0]) * plot[3]; }
    svg.addEventListener("mousemove", function (event) {
      if (event.target.hasAttribute && event.target.hasAttribute("data-tip")) { return; }
      var p = pointIn(svg, event);
      if (p.x < plot[0] || p.x > plot[0] + plot[2] || p.y < plot[1] || p.y > plot[1] + plot[3]) {
        guide.textContent = "";
        tip.hidden = true;
        return;
      }
      var x = data.x[0] + (p.x - plot[0]) / plot[2] * (data.x[1] - data.x[0]);
      var lines = [data.xLabel + ": " + number(x)];
      guide.textContent = "";
      data.series.forEach(function (s) {
        var hidden = seriesOf(svg, s.name).some(function (g) { return g.classList.contains("hidden"); });
        if (hidden || !s.x.length) { return; }
        var i = nearest(s.x, x);
        var dot = document.createElementNS(SVG, "circle");
        dot.setAttribute("cx", px(s.x[i]));
        dot.setAttribute("cy", py(s.y[i]));
        dot.setAttribute("r", 4);
        guide.appendChild(dot);
        lines.push(s.name + ": " + number(s.y[i]));
      });
      var rule = document.createElementNS(SVG, "line");
      rule.setAttribute("x1", p.x);
      rule.setAttribute("x2", p.x);
      rule.setAttribute("y1", plot[1]);
      rule.setAttribute("y2", plot[1] + plot[3]);
      guide.appendChild(rule);
      show(tip, figure, event, lines);
    });
    svg.addEventListener("mouseleave", function () {
      guide.textContent = "";
      tip.hidden = true;
    });
  }

  function tips(svg, figure, tip) {
    svg.querySelectorAll("[data-tip]").forEach(function (el) {
      var text = el.getAttribute("data-tip");
      if (!text) { return; }
      el.addEventListener("mousemove", function (event) { show(tip, figure, event, [text]); });
      el.addEventListener("mouseleave", function () { tip.hidden = true; });
    });
  }

  function setUp(svg) {
    var figure = svg.closest("figure") || svg.parentNode;
    var tip = tooltipFor(figure);
    legend(svg);
    tips(svg, figure, tip);
    var raw = svg.getAttribute("data-chart");
    if (raw) { crosshair(svg, JSON.parse(raw), figure, tip); }
    svg.setAttribute("data-ready", "true");
  }

  var charts = document.querySelectorAll("svg.chart");
  charts.forEach(setUp);
  document.documentElement.setAttribute("data-charts-ready", String(charts.length));
})();
