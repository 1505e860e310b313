// The static explorer: the query list with its filters, and one query side by side under two
// methods. Everything comes from the JSON in <script id="data"> (soccerreid.explorer.static).
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const $ = (id) => document.getElementById(id);
const label = Object.fromEntries(D.methods.map((m) => [m.key, m.label]));
let selected = null;

function pct(ap) { return ap === null ? "-" : (100 * ap).toFixed(1); }
function signed(x) { return x === null ? "-" : (x >= 0 ? "+" : "") + (100 * x).toFixed(1); }
function delta(e, a, b) { return e.ap[a] === null || e.ap[b] === null ? null : e.ap[b] - e.ap[a]; }

function fill(select, options, value) {
  for (const [v, text] of options) {
    const o = document.createElement("option");
    o.value = v; o.textContent = text; select.appendChild(o);
  }
  select.value = value;
}

function init() {
  const methods = D.methods.map((m) => [m.key, `${m.label} (mAP ${pct(m.mAP)})`]);
  fill($("method-a"), methods, D.pair[0]);
  fill($("method-b"), methods, D.pair[1]);
  const classes = [...new Set(D.queries.map((e) => e.clazz))].sort();
  fill($("class"), [["", "all"], ...classes.map((c) => [c, c])], "");
  const actions = [...new Set(D.queries.map((e) => e.action))].sort((x, y) => x - y);
  fill($("action"), [["", "all"], ...actions.map((a) => [String(a), String(a)])], "");
  $("about").textContent = `Split ${D.split}: ${D.queries.length} of its ${D.total_queries} queries ` +
    `(a seeded sample), top ${D.top_k} under every method. Green: same identity as the query; red: another.`;
  for (const id of ["method-a", "method-b", "class", "action", "rank1", "ap-min", "ap-max", "sort"]) {
    $(id).addEventListener("change", render);
    $(id).addEventListener("input", render);
  }
  render();
}

function rows() {
  const a = $("method-a").value, b = $("method-b").value;
  const clazz = $("class").value, action = $("action").value, rank1 = $("rank1").value;
  const lo = Number($("ap-min").value) / 100, hi = Number($("ap-max").value) / 100;
  let list = D.queries.filter((e) =>
    (!clazz || e.clazz === clazz) && (!action || e.action === Number(action)) &&
    (!rank1 || (e.first[a] === 1) === (rank1 === "hit")) &&
    (e.ap[a] === null ? lo <= 0 && hi >= 1 : e.ap[a] >= lo - 1e-12 && e.ap[a] <= hi + 1e-12));
  const sort = $("sort").value;
  const key = sort.startsWith("delta") ? (e) => delta(e, a, b) : sort.startsWith("ap") ? (e) => e.ap[a] : (e) => e.q;
  const sign = sort.endsWith("desc") ? -1 : 1;
  list = list.slice().sort((x, y) => {
    const kx = key(x), ky = key(y);
    if (kx === null || ky === null) return (kx === null) - (ky === null) || x.q - y.q;
    return sign * (kx - ky) || x.q - y.q;
  });
  return list;
}

function render() {
  const a = $("method-a").value, b = $("method-b").value;
  const list = rows();
  $("count").textContent = `${list.length} of ${D.queries.length} queries`;
  const body = $("queries").tBodies[0];
  body.replaceChildren(...list.map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.query = e.q;
    const cells = [e.q, e.action, e.clazz, pct(e.ap[a]), pct(e.ap[b]), signed(delta(e, a, b)), e.first[a] === 1 ? "hit" : "miss"];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    tr.addEventListener("click", () => { selected = e.q; render(); });
    if (e.q === selected) tr.classList.add("selected");
    return tr;
  }));
  if (!list.some((e) => e.q === selected)) selected = list.length ? list[0].q : null;
  if (selected !== null) body.querySelector(`tr[data-query="${selected}"]`).classList.add("selected");
  show(D.queries.find((e) => e.q === selected) || null, a, b);
}

function tile(src, caption, state, role, bbox) {
  const fig = document.createElement("figure");
  fig.className = `tile ${role} ${state || "unknown"}`;
  fig.dataset.role = role; fig.dataset.bbox = bbox;
  if (state) fig.dataset.state = state;
  const img = document.createElement("img");
  img.src = src; img.alt = `${role} ${bbox}`;
  const cap = document.createElement("figcaption");
  cap.textContent = caption;
  fig.append(img, cap);
  return fig;
}

function row(e, key, side) {
  const div = document.createElement("div");
  div.className = "retrieval"; div.dataset.method = key;
  const head = document.createElement("div");
  head.className = "head";
  head.textContent = `${side}: ${label[key]}: AP ${pct(e.ap[key])}; true matches at ranks ${e.ranks[key].join(", ") || "none"}`;
  const tiles = document.createElement("div");
  tiles.className = "tiles";
  tiles.appendChild(tile(`thumbs/q${e.q}.jpg`, "query", null, "query", e.q));
  e.top[key].forEach(([g, hit], r) => tiles.appendChild(tile(`thumbs/g${g}.jpg`, String(r + 1), hit ? "match" : "miss", "gallery", g)));
  div.append(head, tiles);
  return div;
}

function show(e, a, b) {
  const side = $("side");
  if (e === null) { side.replaceChildren(document.createTextNode("No query matches these filters.")); return; }
  const title = document.createElement("h2");
  title.textContent = `Query ${e.q} (action ${e.action}, ${e.clazz})`;
  const change = document.createElement("div");
  change.className = "delta";
  change.textContent = `AP change B - A: ${signed(delta(e, a, b))}`;
  side.replaceChildren(title, row(e, a, "A"), row(e, b, "B"), change);
}

init();
