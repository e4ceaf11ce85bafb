// sockhub admin page: the charts of each node, drawn with uPlot (an npm
// package that sockhub serves from node_modules, never a copy): connections
// and subscriptions, and messages in and out per second, over the last 15
// minutes of the node's samples (the admin socket's `series`: one sample per
// node ping, [t, connections, subscriptions, in/s, out/s]).
(function () {
  "use strict";

  var WINDOW_S = 900;
  var MIN_SPAN_S = 30;
  var HEIGHT = 150;
  var CHARTS = [
    { name: "clients", title: "Connections and subscriptions", fields: [1, 2],
      labels: ["connections", "subscriptions"], colors: ["#2463eb", "#1a9b5b"] },
    { name: "messages", title: "Messages per second", fields: [3, 4],
      labels: ["in", "out"], colors: ["#d97706", "#7c3aed"] }
  ];

  function columns(samples, fields) {
    var data = [samples.map(function (s) { return s[0]; })];
    fields.forEach(function (f) { data.push(samples.map(function (s) { return s[f]; })); });
    return data;
  }

  function options(def, width) {
    var series = [{}];
    def.labels.forEach(function (label, i) {
      series.push({ label: label, stroke: def.colors[i], width: 2, fill: def.colors[i] + "14",
                    points: { show: false } });
    });
    return {
      title: def.title, width: width, height: HEIGHT, series: series,
      cursor: { drag: { x: false, y: false } },
      legend: { live: false },  // names only: the figures above give the numbers
      scales: {
        // the samples there are, up to the whole window, ending at the newest one
        x: { time: true, range: function (u, min, max) {
          return [Math.min(Math.max(min, max - WINDOW_S), max - MIN_SPAN_S), max];
        } },
        y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.15 : 1]; } }
      },
      axes: [{ stroke: "#6b7785", grid: { stroke: "#eef1f5" } },
             { stroke: "#6b7785", grid: { stroke: "#eef1f5" }, size: 50 }]
    };
  }

  // The charts of one node, made in `box` on the first samples, then fed.
  function NodeCharts(box) {
    this.box = box;
    this.plots = [];
    this.holders = CHARTS.map(function (def) {
      var holder = document.createElement("div");
      holder.className = "chart";
      holder.dataset.chart = def.name;
      holder.dataset.points = "0";
      box.appendChild(holder);
      return holder;
    });
  }

  NodeCharts.prototype.update = function (samples) {
    if (!samples.length || typeof uPlot === "undefined") return;
    var self = this;
    CHARTS.forEach(function (def, i) {
      var data = columns(samples, def.fields), holder = self.holders[i];
      if (!self.plots[i]) {
        self.plots[i] = new uPlot(options(def, Math.max(240, holder.clientWidth)), data, holder);
      } else {
        self.plots[i].setData(data);
      }
      // what the picture shows, for tests and for reading without a mouse
      var last = samples[samples.length - 1];
      holder.dataset.points = String(samples.length);
      holder.dataset.last = JSON.stringify(def.fields.map(function (f) { return last[f]; }));
    });
  };

  NodeCharts.prototype.resize = function () {
    var self = this;
    this.plots.forEach(function (plot, i) {
      plot.setSize({ width: Math.max(240, self.holders[i].clientWidth), height: HEIGHT });
    });
  };

  NodeCharts.prototype.destroy = function () {
    this.plots.forEach(function (plot) { plot.destroy(); });
    this.plots = [];
  };

  window.SockhubCharts = { NodeCharts: NodeCharts };
})();
