// app.js — the page's behaviour, over the server's JSON API on the same
// origin: title search (/v1/items), star ratings kept in the page, fold-in
// recommendations (/v1/foldin) after every change, a film's facts
// (/v1/items/{id}) and neighbours (/v1/similar). No framework, no build.
"use strict";

const rated = new Map(); // item id -> {rating, title}
const $ = (id) => document.getElementById(id);

function showStatus(text) { $("status").textContent = text || ""; }

// One request; its JSON, or null after showing the server's error sentence.
async function api(path, options) {
  try {
    const r = await fetch(path, options);
    const j = await r.json();
    if (!r.ok) { showStatus(j.error || `error ${r.status}`); return null; }
    showStatus("");
    return j;
  } catch (e) {
    showStatus(`the server did not answer (${e.message})`);
    return null;
  }
}

// Later requests win: a slow reply to an old search must not replace a newer one.
let searchSeq = 0, recsSeq = 0, detailSeq = 0;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function stars(item, title) {
  const box = el("span", { class: "stars", "data-item": item });
  const have = rated.has(item) ? rated.get(item).rating : 0;
  for (let v = 1; v <= 5; v++) {
    box.append(el("button", {
      class: "star" + (v <= have ? " on" : ""), "data-value": String(v), type: "button",
      "aria-label": `rate ${title} ${v} star${v > 1 ? "s" : ""}`,
      onclick: () => rate(item, title, v),
    }, "\u2605"));
  }
  return box;
}

function filmRow(item, title, meta) {
  return el("li", { "data-item": item },
    el("button", { class: "title", type: "button", onclick: () => showDetail(item) }, title || item),
    el("span", { class: "meta" }, meta), stars(item, title || item));
}

// Clicking the stars a film already has takes its rating away.
function rate(item, title, value) {
  if (rated.has(item) && rated.get(item).rating === value) rated.delete(item);
  else rated.set(item, { rating: value, title });
  for (const box of document.querySelectorAll(`.stars[data-item="${CSS.escape(item)}"]`)) {
    const have = rated.has(item) ? rated.get(item).rating : 0;
    for (const b of box.children) b.classList.toggle("on", Number(b.dataset.value) <= have);
  }
  renderRated();
  refreshRecs();
}

function renderRated() {
  const list = $("rated");
  list.replaceChildren();
  for (const [item, r] of rated) list.append(filmRow(item, r.title, `${r.rating} \u2605`));
}

async function refreshRecs() {
  const seq = ++recsSeq;
  if (rated.size === 0) {
    $("recs").replaceChildren();
    $("recs-hint").textContent = "Rate a film to start.";
    return;
  }
  const ratings = [...rated].map(([item, r]) => ({ item, rating: r.rating }));
  const j = await api("/v1/foldin", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ratings, n: 10 }),
  });
  if (!j || seq !== recsSeq) return;
  $("recs-hint").textContent =
    `From your ${j.n_used} rating${j.n_used === 1 ? "" : "s"}` +
    (j.bias === null ? "" : `; you rate ${j.bias >= 0 ? "+" : ""}${j.bias.toFixed(2)} stars against the average`) + ".";
  $("recs").replaceChildren(...j.items.map((e) => filmRow(e.item, e.title, `${e.score.toFixed(2)} \u2605 predicted`)));
}

async function search(q) {
  const seq = ++searchSeq;
  const j = await api(`/v1/items?n=20&q=${encodeURIComponent(q)}`);
  if (!j || seq !== searchSeq) return;
  $("search-hint").textContent = q ? `${j.items.length} match${j.items.length === 1 ? "" : "es"} for \u201c${q}\u201d, most rated first:` : "Most rated films:";
  $("results").replaceChildren(...j.items.map((e) => filmRow(e.item, e.title, `${e.count} ratings`)));
}

const fmt = (x, digits) => (x === null || x === undefined ? "unknown" : x.toFixed(digits));

async function showDetail(item) {
  const seq = ++detailSeq;
  const id = encodeURIComponent(item);
  const [info, sim] = await Promise.all([api(`/v1/items/${id}`), api(`/v1/similar?n=10&item=${id}`)]);
  if (!info || seq !== detailSeq) return;
  $("detail").hidden = false;
  $("detail-h").textContent = info.title || info.item;
  $("d-bias").textContent = info.bias === null ? "none (model without biases)" : `${info.bias >= 0 ? "+" : ""}${info.bias.toFixed(2)} stars`;
  $("d-count").textContent = String(info.count);
  $("d-mean").textContent = fmt(info.mean, 2);
  $("similar").replaceChildren(...(sim ? sim.items : []).map((e) => filmRow(e.item, e.title, `cos ${e.score.toFixed(2)}`)));
}

let typing;
$("search").addEventListener("input", (ev) => {
  clearTimeout(typing);
  typing = setTimeout(() => search(ev.target.value.trim()), 150);
});
search("");
