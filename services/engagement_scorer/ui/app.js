// Engagement Score UI: vanilla JavaScript, inline SVG, no build step, no third-party code.
// Reads the worker's query API and polls it; every drawn figure carries data-* attributes
// (data-component, data-value, ...) so what is drawn can be checked against the API.
"use strict";

(function () {
  const POLL_MS = 3000;
  const COMPONENTS = ["reach", "visit", "view", "interact", "contribute"];
  const LABELS = {
    reach: "Reach", visit: "Visit", view: "View", interact: "Interact", contribute: "Contribute",
  };
  const LEVEL_NAMES = {
    initiation: "Initiation", informing: "Informing", engaging: "Engaging",
    co_creating: "Co-creating",
  };
  const COLOURS = {
    score: "#1f2933", reach: "#0891b2", visit: "#7c3aed", view: "#059669",
    interact: "#db2777", contribute: "#ea580c",
  };
  const SVG_NS = "http://www.w3.org/2000/svg";

  // ---------------------------------------------------------------------------------------------
  // helpers
  // ---------------------------------------------------------------------------------------------

  class HttpError extends Error {
    constructor(status, body) {
      super("HTTP " + status);
      this.status = status;
      this.body = body;
    }
  }

  async function api(path) {
    const response = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
    let body = null;
    try {
      body = await response.json();
    } catch (_err) {
      body = null;
    }
    if (!response.ok) throw new HttpError(response.status, body);
    return body;
  }

  function attrs(node, attributes) {
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null) continue;
      node.setAttribute(name, String(value));
    }
    return node;
  }

  function el(tag, attributes, ...children) {
    const node = attrs(document.createElement(tag), attributes);
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attributes, ...children) {
    const node = attrs(document.createElementNS(SVG_NS, tag), attributes);
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const fmt = (v) => (isNum(v) ? v.toFixed(1) : "—");
  const dataValue = (v) => (isNum(v) ? String(v) : "");
  const round2 = (v) => Math.round(v * 100) / 100;
  const levelName = (level) => (level ? LEVEL_NAMES[level] || level : "—");

  function signed(v) {
    if (!isNum(v)) return "—";
    return (v > 0 ? "+" : v < 0 ? "−" : "±") + Math.abs(v).toFixed(1);
  }

  function relation(level, target, levels) {
    if (!level || !target) return "none";
    const a = levels.indexOf(level);
    const b = levels.indexOf(target);
    if (a < 0 || b < 0) return "none";
    return a < b ? "below" : a > b ? "above" : "at";
  }

  function setStatus(ok, detail) {
    const status = document.getElementById("status");
    if (!status) return;
    status.dataset.state = ok ? "live" : "error";
    status.textContent = ok
      ? "live · updated " + new Date().toLocaleTimeString()
      : "connection lost, retrying… (" + detail + ")";
  }

  // Runs `refresh` now and then POLL_MS after each run ends (never two at once).
  function poll(refresh) {
    const run = async () => {
      try {
        await refresh();
        setStatus(true);
        document.body.dataset.updated = new Date().toISOString();
      } catch (err) {
        setStatus(false, err && err.message ? err.message : String(err));
      }
      window.setTimeout(run, POLL_MS);
    };
    run();
  }

  // At most `limit` promises at a time over `items`.
  async function mapLimit(items, limit, fn) {
    const results = new Array(items.length);
    let next = 0;
    async function worker() {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
  }

  let profilesCache = null;
  async function levelProfiles() {
    if (!profilesCache) profilesCache = await api("/ui/profiles.json");
    return profilesCache;
  }

  const orgPath = (orgId) => "/orgs/" + encodeURIComponent(orgId);
  const uiOrgPath = (orgId) => "/ui/api/orgs/" + encodeURIComponent(orgId);

  // ---------------------------------------------------------------------------------------------
  // index: all organisations
  // ---------------------------------------------------------------------------------------------

  const names = new Map(); // org id -> profile answer (fetched once)

  function bar(value) {
    const width = isNum(value) ? Math.max(0, Math.min(100, value)) * 0.5 : 0;
    return svg(
      "svg", { width: 52, height: 8, viewBox: "0 0 52 8", "aria-hidden": "true" },
      svg("rect", { x: 0, y: 0, width: 50, height: 8, fill: "#e4e7eb", rx: 2 }),
      svg("rect", { x: 0, y: 0, width: round2(width), height: 8, fill: "#2563eb", rx: 2 }),
    );
  }

  async function indexRow(orgId, levels) {
    const [score, alerts] = await Promise.all([
      api(orgPath(orgId) + "/score"),
      api(orgPath(orgId) + "/alerts"),
    ]);
    if (!names.has(orgId)) {
      try {
        names.set(orgId, await api(uiOrgPath(orgId) + "/profile"));
      } catch (_err) {
        names.set(orgId, null);
      }
    }
    const profile = names.get(orgId);
    const link = el("a", { href: "/ui/orgs/" + encodeURIComponent(orgId) }, profile && profile.name ? profile.name : orgId);
    const named = profile && profile.name && profile.name !== orgId;
    const nameCell = el("td", { class: "orgname", "data-field": "org" }, link, named ? el("small", {}, orgId) : null);
    const cells = COMPONENTS.map((name) => {
      const value = score.components[name].value;
      return el("td", { class: "num", "data-component": name, "data-value": dataValue(value) }, bar(value), fmt(value));
    });
    const level = score.operating_level;
    const target = score.target_level;
    const rel = relation(level, target, levels);
    const firing = (alerts.firing || []).length;
    return el(
      "tr", { "data-org": orgId },
      nameCell,
      ...cells,
      el("td", { class: "num", "data-field": "score", "data-value": dataValue(score.engagement_score) }, el("strong", {}, fmt(score.engagement_score))),
      el("td", { "data-field": "level", "data-level": level || "" }, levelName(level)),
      el("td", { "data-field": "target", "data-level": target || "", "data-relation": rel },
        levelName(target), target ? el("span", { class: "badge " + rel }, rel === "none" ? "level not announced" : rel + " target") : null),
      el("td", { class: "num", "data-field": "alerts", "data-count": firing },
        firing ? el("span", { class: "badge critical" }, String(firing)) : "0"),
    );
  }

  async function refreshIndex() {
    const profiles = await levelProfiles();
    const listing = await api("/orgs");
    const orgs = listing.orgs || [];
    const rows = await mapLimit(orgs, 6, async (orgId) => {
      try {
        return await indexRow(orgId, profiles.levels);
      } catch (err) {
        if (err instanceof HttpError && err.status === 404) return null; // not scored yet
        throw err;
      }
    });
    const body = clear(document.querySelector("#orgs tbody"));
    for (const row of rows) if (row) body.append(row);
    document.getElementById("empty").hidden = body.children.length > 0;
    document.body.dataset.orgCount = String(body.children.length);
  }

  // ---------------------------------------------------------------------------------------------
  // organisation page
  // ---------------------------------------------------------------------------------------------

  const RADAR = { cx: 220, cy: 205, r: 160 };

  function radarPoint(i, value) {
    const angle = -Math.PI / 2 + (i * 2 * Math.PI) / COMPONENTS.length;
    const r = (RADAR.r * Math.max(0, Math.min(100, isNum(value) ? value : 0))) / 100;
    return [round2(RADAR.cx + r * Math.cos(angle)), round2(RADAR.cy + r * Math.sin(angle))];
  }

  function radarSeries(root, series, values, extra) {
    const points = COMPONENTS.map((name, i) => radarPoint(i, values[name]));
    root.append(svg("polygon", {
      class: "series-" + series, "data-series": series,
      points: points.map((p) => p.join(",")).join(" "), ...extra,
    }));
    COMPONENTS.forEach((name, i) => {
      const value = values[name];
      root.append(svg("circle", {
        class: "dot-" + series, "data-series": series, "data-component": name,
        "data-value": dataValue(value), "data-missing": isNum(value) ? null : "true",
        cx: points[i][0], cy: points[i][1], r: series === "org" ? 4.5 : 3,
      }, svg("title", {}, LABELS[name] + " (" + series + "): " + fmt(value))));
    });
  }

  function drawRadar(score, profiles, peer) {
    const root = clear(document.getElementById("radar"));
    attrs(root, { "data-cx": RADAR.cx, "data-cy": RADAR.cy, "data-radius": RADAR.r, "data-max": 100 });
    for (const ring of [25, 50, 75, 100]) {
      const pts = COMPONENTS.map((_n, i) => radarPoint(i, ring).join(",")).join(" ");
      root.append(svg("polygon", { class: "grid", points: pts }));
      if (ring < 100) {
        const [x, y] = radarPoint(0, ring);
        root.append(svg("text", { class: "tick", x: x + 4, y: y + 3 }, String(ring)));
      }
    }
    COMPONENTS.forEach((name, i) => {
      const [x, y] = radarPoint(i, 100);
      const [lx, ly] = radarPoint(i, 116);
      root.append(svg("line", { class: "axis", x1: RADAR.cx, y1: RADAR.cy, x2: x, y2: y }));
      const anchor = Math.abs(lx - RADAR.cx) < 5 ? "middle" : lx > RADAR.cx ? "start" : "end";
      root.append(svg("text", { class: "axis-label", x: lx, y: ly + 4, "text-anchor": anchor }, LABELS[name]));
    });
    const target = score.target_level;
    if (target && profiles.profiles[target]) {
      radarSeries(root, "target", profiles.profiles[target], { "data-level": target });
    }
    if (peer && peer.published) {
      const medians = {};
      for (const name of COMPONENTS) {
        const q = peer.components[name];
        medians[name] = q ? q.median : null;
      }
      radarSeries(root, "peer", medians, {});
    }
    const own = {};
    for (const name of COMPONENTS) own[name] = score.components[name].value;
    radarSeries(root, "org", own, { "data-org": score.org_id });
    document.getElementById("radar-target-name").textContent =
      target ? "target: " + levelName(target) : "no target level";
  }

  function position(score, peer, name) {
    const given = score.benchmark_position && score.benchmark_position[name];
    if (given) return given;
    const value = score.components[name].value;
    const q = peer && peer.published ? peer.components[name] : null;
    if (!q || !isNum(value)) return "unknown";
    return value > q.median ? "above" : value < q.median ? "below" : "at";
  }

  function drawPeers(score, peer) {
    const root = clear(document.getElementById("peers"));
    const x0 = 95;
    const width = 330;
    const sx = (v) => round2(x0 + (width * Math.max(0, Math.min(100, v))) / 100);
    attrs(root, { "data-x0": x0, "data-width": width, "data-published": peer && peer.published ? "true" : "false" });
    for (const tick of [0, 25, 50, 75, 100]) {
      root.append(svg("line", { class: "axis", x1: sx(tick), y1: 18, x2: sx(tick), y2: 280 }));
      root.append(svg("text", { class: "tick", x: sx(tick), y: 12, "text-anchor": "middle" }, String(tick)));
    }
    COMPONENTS.forEach((name, i) => {
      const y = 45 + i * 52;
      const value = score.components[name].value;
      const q = peer && peer.published ? peer.components[name] : null;
      const pos = position(score, peer, name);
      const verdict = pos === "above" ? "better" : pos === "below" ? "worse" : pos;
      const row = svg("g", {
        "data-component": name, "data-value": dataValue(value),
        "data-median": q ? dataValue(q.median) : "", "data-p25": q ? dataValue(q.p25) : "",
        "data-p75": q ? dataValue(q.p75) : "", "data-position": pos,
      });
      row.append(svg("text", { class: "axis-label", x: 0, y: y + 5 }, LABELS[name]));
      if (q) {
        row.append(svg("rect", { class: "band", x: sx(q.p25), y: y - 11, width: round2(sx(q.p75) - sx(q.p25)), height: 22, rx: 3 }));
        row.append(svg("line", { class: "median", x1: sx(q.median), y1: y - 14, x2: sx(q.median), y2: y + 14 }));
      }
      if (isNum(value)) {
        row.append(svg("circle", { class: "dot-org", cx: sx(value), cy: y, r: 6 }, svg("title", {}, LABELS[name] + ": " + fmt(value))));
      }
      const delta = q && isNum(value) ? signed(value - q.median) : fmt(value);
      const word = verdict === "better" || verdict === "worse" ? verdict : verdict === "at" ? "at median" : "";
      row.append(svg("text", { class: "delta " + verdict, x: x0 + width + 14, y: y + 5 },
        delta + (word ? " " + word : "")));
      root.append(row);
    });
    const note = document.getElementById("peer-note");
    if (!peer) {
      note.textContent = "No peer group: the organisation's profile has no sector.";
    } else {
      const g = peer.group;
      const label = g.sector + " · " + g.size_band + " employees · " + g.platform_type;
      note.textContent = peer.published
        ? "Peer group " + label + ": " + peer.org_count + " organisations. Points above or " +
          "below the group median (line); grey band: the middle half (p25–p75)."
        : "Peer group " + label + " has fewer than " + peer.min_group_size +
          " organisations: no benchmark is published yet.";
    }
  }

  function drawTrend(trend) {
    const root = clear(document.getElementById("trend"));
    const left = 40, top = 12, width = 760, height = 230;
    const points = trend.points || [];
    const note = document.getElementById("trend-note");
    root.dataset.points = String(points.length);
    const sy = (v) => round2(top + height - (height * Math.max(0, Math.min(100, v))) / 100);
    for (const tick of [0, 25, 50, 75, 100]) {
      root.append(svg("line", { class: "axis", x1: left, y1: sy(tick), x2: left + width, y2: sy(tick) }));
      root.append(svg("text", { class: "tick", x: left - 6, y: sy(tick) + 3, "text-anchor": "end" }, String(tick)));
    }
    if (!points.length) {
      note.textContent = "No figures recorded yet.";
      return;
    }
    const last = new Date(points[points.length - 1].day + "T00:00:00Z");
    const span = trend.days - 1;
    const dayIndex = (day) => span - Math.round((last - new Date(day + "T00:00:00Z")) / 86400000);
    const sx = (day) => round2(left + (width * dayIndex(day)) / Math.max(1, span));
    for (const p of points) {
      if ((span - dayIndex(p.day)) % 7 === 0) { // every 7 days back from the latest
        root.append(svg("text", { class: "tick", x: sx(p.day), y: top + height + 16, "text-anchor": "middle" }, p.day.slice(5)));
      }
    }
    const seriesNames = ["score", ...COMPONENTS];
    for (const series of seriesNames) {
      const get = (p) => (series === "score" ? p.engagement_score : p.components[series]);
      const present = points.filter((p) => isNum(get(p)));
      const group = svg("g", { "data-series": series });
      if (present.length > 1) {
        group.append(svg("polyline", {
          class: "line" + (series === "score" ? " score" : ""), stroke: COLOURS[series],
          points: present.map((p) => sx(p.day) + "," + sy(get(p))).join(" "),
        }));
      }
      for (const p of present) {
        group.append(svg("circle", {
          cx: sx(p.day), cy: sy(get(p)), r: series === "score" ? 3.5 : 2, fill: COLOURS[series],
          "data-series": series, "data-day": p.day, "data-value": dataValue(get(p)),
        }, svg("title", {}, (series === "score" ? "Score" : LABELS[series]) + " " + p.day + ": " + fmt(get(p)))));
      }
      root.append(group);
    }
    // legend
    seriesNames.forEach((series, i) => {
      const x = left + 10 + i * 110;
      root.append(svg("rect", { x, y: top + height + 26, width: 12, height: 4, fill: COLOURS[series] }));
      root.append(svg("text", { class: "tick", x: x + 16, y: top + height + 31 }, series === "score" ? "Score" : LABELS[series]));
    });
    note.textContent = points.length + " of the last " + trend.days + " days: each local day's " +
      "last published figures, from the organisation's history (kept " + trend.retention_days +
      " days; it survives restarts and moves to another worker).";
  }

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  async function historyTrend(base, score) {
    const last = new Date(score.window_end + "T00:00:00Z");
    const first = new Date(last.getTime() - 29 * 86400000);
    const body = await api(base + "/history?granularity=day&from=" + isoDay(first) + "&to=" + isoDay(last));
    const points = body.points.map((p) => ({
      day: p.period,
      engagement_score: p.engagement_score,
      components: Object.fromEntries(COMPONENTS.map((c) => [c, p.components[c].value])),
    }));
    return { points, days: 30, retention_days: body.retention_days };
  }

  function fillMonths(months) {
    const body = clear(document.querySelector("#months tbody"));
    const points = (months.points || []).slice(-12);
    for (const p of points) {
      body.append(el("tr", { "data-month": p.period },
        el("th", { scope: "row" }, p.period),
        ...COMPONENTS.map((c) => el("td", { class: "num", "data-component": c, "data-value": dataValue(p.components[c].value) },
          fmt(p.components[c].value))),
        el("td", { class: "num", "data-field": "score", "data-value": dataValue(p.engagement_score) }, fmt(p.engagement_score)),
        el("td", { "data-field": "level", "data-level": p.level || "" }, p.level ? levelName(p.level) : "—"),
      ));
    }
    document.getElementById("months-note").textContent = points.length
      ? "Final figures of each closed month (after the grace period)."
      : "No month closed yet.";
  }

  function fillAdvice(advice) {
    const list = clear(document.getElementById("advice"));
    for (const a of advice.advice || []) {
      list.append(el("li", { "data-component": a.component, "data-gap": dataValue(a.gap) },
        el("span", { class: "badge below" }, LABELS[a.component]), " ", a.text));
    }
    if (!(advice.advice || []).length) {
      list.append(el("li", { class: "none" }, advice.target_level
        ? "No component is below the target level's profile."
        : "No target level declared: no advice."));
    }
  }

  function fillBreakdowns(b) {
    document.getElementById("breakdown-window").textContent = "window " + b.window.start + " – " + b.window.end;
    const channels = clear(document.querySelector("#channels tbody"));
    for (const c of b.channels) {
      channels.append(el("tr", { "data-channel": c.channel },
        el("th", { scope: "row" }, c.channel),
        el("td", { class: "num", "data-field": "messages" }, String(c.messages)),
        el("td", { class: "num", "data-field": "reads" }, String(c.reads)),
        el("td", { class: "num", "data-field": "audience" }, String(c.audience)),
        el("td", { class: "num", "data-field": "view", "data-value": dataValue(c.view) }, fmt(c.view))));
    }
    const types = clear(document.querySelector("#content-types tbody"));
    for (const [type, t] of Object.entries(b.content_types)) {
      types.append(el("tr", { "data-type": type },
        el("th", { scope: "row" }, type),
        el("td", { class: "num", "data-field": "contributions" }, String(t.contributions)),
        el("td", { class: "num", "data-field": "contributors" }, String(t.contributors)),
        el("td", { class: "num", "data-field": "viewers" }, String(t.viewers))));
    }
    const freq = clear(document.querySelector("#visit-frequency tbody"));
    for (const [bucket, n] of Object.entries(b.visit_frequency)) {
      freq.append(el("tr", { "data-bucket": bucket },
        el("th", { scope: "row" }, bucket), el("td", { class: "num", "data-field": "accounts" }, String(n))));
    }
    const c = b.concentration;
    const node = document.getElementById("concentration");
    node.dataset.share = dataValue(c.top_share);
    node.dataset.contributors = String(c.contributors);
    node.textContent = c.contributions
      ? "The top " + c.top_contributors + " of " + c.contributors + " contributors (10 %) made " +
        c.top_contributions + " of the " + c.contributions + " contributions: " + fmt(c.top_share) + " %."
      : "No contributions in the window.";
  }

  function fillComponents(score, profiles, peer) {
    const body = clear(document.querySelector("#components tbody"));
    const target = score.target_level;
    const targetValues = target ? profiles.profiles[target] : null;
    for (const name of COMPONENTS) {
      const c = score.components[name];
      const m = score.month_to_date[name];
      const gap = score.target_gap ? score.target_gap[name] : null;
      const q = peer && peer.published ? peer.components[name] : null;
      body.append(el("tr", { "data-component": name },
        el("th", { scope: "row" }, LABELS[name]),
        el("td", { class: "num", "data-field": "window", "data-value": dataValue(c.value) }, fmt(c.value)),
        el("td", { class: "num", "data-field": "fraction" }, c.numerator + " / " + c.denominator),
        el("td", { class: "num", "data-field": "month", "data-value": dataValue(m.value) }, fmt(m.value)),
        el("td", { class: "num", "data-field": "target", "data-value": targetValues ? dataValue(targetValues[name]) : "" },
          targetValues ? fmt(targetValues[name]) : "—"),
        el("td", { class: "num", "data-field": "gap", "data-value": dataValue(gap) }, signed(gap)),
        el("td", { class: "num", "data-field": "median", "data-value": q ? dataValue(q.median) : "" }, q ? fmt(q.median) : "—"),
      ));
    }
  }

  function fillAlerts(alerts) {
    const list = clear(document.getElementById("alerts"));
    const firing = alerts.firing || [];
    for (const alert of firing) {
      list.append(el("li", {
        "data-alert": alert.alert, "data-severity": alert.severity, "data-component": alert.component || "",
      },
      el("span", { class: "badge " + alert.severity }, alert.severity),
      " ", el("strong", {}, alert.alert.replace(/_/g, " ")), " — ", alert.text,
      alert.at ? el("span", { class: "small" }, "since " + alert.at) : null));
    }
    if (!firing.length) list.append(el("li", { class: "none" }, "No alerts are firing."));
    const count = document.getElementById("alert-count");
    count.textContent = String(firing.length);
    count.dataset.count = String(firing.length);
  }

  function fillSummary(score, level, profile, profiles) {
    const named = profile && profile.name && profile.name !== score.org_id;
    const title = named ? profile.name + " (" + score.org_id + ")" : score.org_id;
    document.getElementById("title").textContent = title;
    document.title = "Engagement Score · " + title;
    const scoreNode = document.getElementById("score");
    scoreNode.textContent = fmt(score.engagement_score);
    scoreNode.dataset.value = dataValue(score.engagement_score);
    document.getElementById("as-of").textContent =
      "as of " + score.as_of + " · window " + score.window_start + " – " + score.window_end +
      " · month to date " + fmt(score.month_engagement_score);
    const levelNode = document.getElementById("level");
    levelNode.textContent = score.operating_level ? levelName(score.operating_level) : "not announced yet";
    levelNode.dataset.level = score.operating_level || "";
    const best = document.getElementById("best-fit");
    best.dataset.level = level.best_fit || "";
    best.dataset.confidence = dataValue(level.confidence);
    best.textContent = level.best_fit
      ? "best fit now: " + levelName(level.best_fit) + ", confidence " + Math.round(level.confidence * 100) + " %"
      : "no component has a value yet";
    const targetNode = document.getElementById("target");
    const target = score.target_level;
    const rel = relation(score.operating_level, target, profiles.levels);
    targetNode.textContent = target ? levelName(target) : "none declared";
    targetNode.dataset.level = target || "";
    targetNode.dataset.relation = rel;
    document.getElementById("target-note").textContent = target
      ? (rel === "none" ? "operating level not announced yet" : "operating " + rel + " target")
      : "";
  }

  async function refreshOrg(orgId) {
    const base = orgPath(orgId);
    let score;
    try {
      score = await api(base + "/score");
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) {
        const missing = document.getElementById("missing");
        missing.hidden = false;
        missing.textContent = "Unknown organisation " + orgId + " (no figures yet).";
        document.body.dataset.missing = "true";
        return;
      }
      throw err;
    }
    document.getElementById("missing").hidden = true;
    const [level, alerts, profile, trend, profiles, months, advice, breakdowns] = await Promise.all([
      api(base + "/level"),
      api(base + "/alerts"),
      api(uiOrgPath(orgId) + "/profile"),
      historyTrend(base, score),
      levelProfiles(),
      api(base + "/history?granularity=month"),
      api(base + "/advice"),
      api(base + "/breakdowns"),
    ]);
    const peer = profile.peer_group;
    fillSummary(score, level, profile, profiles);
    drawRadar(score, profiles, peer);
    drawPeers(score, peer);
    drawTrend(trend);
    fillComponents(score, profiles, peer);
    fillAlerts(alerts);
    fillMonths(months);
    fillAdvice(advice);
    fillBreakdowns(breakdowns);
    document.getElementById("csv").setAttribute("href", base + "/history?format=csv");
    const group = document.getElementById("peer-group");
    group.textContent = peer ? "peers: " + peer.group.sector + " · " + peer.group.size_band + " · " + peer.group.platform_type : "";
    document.body.dataset.asOf = score.as_of;
  }

  // ---------------------------------------------------------------------------------------------

  const page = document.body.dataset.page;
  if (page === "index") {
    poll(refreshIndex);
  } else if (page === "org") {
    const tail = window.location.pathname.split("/ui/orgs/")[1] || "";
    const orgId = decodeURIComponent(tail.replace(/\/+$/, ""));
    document.body.dataset.org = orgId;
    poll(() => refreshOrg(orgId));
  }
})();
