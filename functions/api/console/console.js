// The operator console: every customs system at a glance, one opened with its drain, history, held
// declarations and windows, and the operator's actions, each confirmed. It refreshes itself every few
// seconds and never touches what the operator is typing.

import * as api from "./api.js";
import { draw, MAX_RATE, outlook, rateAt } from "./drain.js";
import { clock, duration, el, facts, moment, rows, severity, statusText, systemRow, tone } from "./view.js";

const REFRESH_MS = 4000;
const PAGE = 20;
const $ = (id) => document.getElementById(id);

const state = {
  systems: [],
  opened: null, // the system id shown in the detail
  detail: null, // its GET /systems/{id} answer
  heldTokens: [null], // the `next` token of each held page seen, the first page's being null
  heldPage: 0,
  whatIf: null, // the what-if rate, once the operator moved it
  scale: null,
  timer: null,
  dragging: false,
  signInProblem: null, // why the last sign-in came back refused, shown with the sign-in
  signInNote: null, // why the sign-in is shown (signed out in another tab), until the operator signs in
  out: false, // signed out but the sign-in cannot be shown (its settings did not load): nothing refreshes
};

const SIGNED_OUT_ELSEWHERE = "You signed out in another tab of this browser, so this tab is signed out too.";
const UNENDED = "Signed out in this tab, but your session at the operators' sign-in could not be ended: the "
  + "sign-in settings did not load (network). Close the browser, or sign out again when the network is back.";
const UNENDED_ELSEWHERE = `${SIGNED_OUT_ELSEWHERE} But this tab's session at the operators' sign-in could not be `
  + "ended: the sign-in settings did not load (network). Close the browser.";

// ------------------------------------------------------------------ messages, errors, sign-in
function say(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
  clearTimeout(state.sayTimer);
  if (kind === "ok") state.sayTimer = setTimeout(() => box.dataset.kind === "ok" && say(""), 10000);
}

function explain(error) {
  const details = (error.details || []).map((d) => `${d.field}: ${d.message}`).join("; ");
  return `${error.message}${details ? ` (${details})` : ""} [${error.code}]`;
}

async function guarded(action, failureKind = "error") {
  try {
    return await action();
  } catch (error) {
    if (error instanceof api.SignInNeeded) {
      if (error instanceof api.SessionEnded) state.signInProblem = error.message; // said with the sign-in
      await askSignIn();
    } else if (error instanceof api.ApiError) {
      say(explain(error), failureKind);
    } else {
      say(`The API did not answer (${error.message}); retrying.`, failureKind);
    }
    return undefined;
  }
}

// The sign-in this deployment offers (console/config.json): the hosted UI's (PKCE), a form (make run), none.
async function askSignIn() {
  clearTimeout(state.timer);
  $("sign-out").hidden = true;
  let offered;
  try {
    offered = (await api.signInSettings()).sign_in;
  } catch (error) {
    say(error instanceof api.ApiError ? explain(error) : `The console's sign-in settings did not load (${error.message}).`);
    return;
  }
  if (offered !== "pkce" && offered !== "client_credentials") {
    say("The API asks for credentials and this deployment offers no sign-in in the console (AuthMode=IAM: "
      + "calls are signed with SigV4).");
    return;
  }
  clearTimeout(state.timer); // one a refresh on the way set meanwhile
  $("sign-in").hidden = false;
  $("sign-in-hosted").hidden = offered !== "pkce";
  $("sign-in-form").hidden = offered !== "client_credentials";
  say(state.signInProblem || state.signInNote || "Sign in to see the customs systems.",
    state.signInProblem ? "error" : "info");
  state.signInProblem = null;
  if (offered === "pkce") $("sign-in-start").focus();
  else $("sign-in-form").elements.client_id.focus();
}

// ------------------------------------------------------------------ refresh
async function refresh() {
  clearTimeout(state.timer);
  if (state.out) return;
  const done = await guarded(async () => {
    const systems = (await api.call("GET", "systems")).items;
    if (state.out || !$("sign-in").hidden) return false; // signed out while it was on the way: not shown
    state.systems = systems;
    renderSystems();
    if (state.opened) await refreshDetail();
    return true;
  }, "refresh");
  if (done) {
    if ($("message").dataset.kind === "refresh" || $("message").dataset.kind === "info") say("");
    const now = new Date();
    $("refreshed").textContent = `refreshed ${clock(now)}:${String(now.getSeconds()).padStart(2, "0")}`;
    $("sign-out").hidden = !api.token();
  }
  if ($("sign-in").hidden && !state.out) state.timer = setTimeout(refresh, REFRESH_MS);
}

/** Signed out: what the tab showed goes too (a shared workstation). */
function blank() {
  clearTimeout(state.timer);
  state.systems = [];
  state.opened = null;
  state.detail = null;
  $("detail").hidden = true;
  history.replaceState(null, "", location.pathname + location.search);
  renderSystems();
  $("summary").textContent = "Signed out.";
  delete $("summary").dataset.tone;
  $("refreshed").textContent = "signed out";
}

/** pkce: the operator signed out in another tab, which ends the hosted UI's session; this tab has revoked
 * its own refresh token (ended) or could not (the settings did not load, nor will the sign-in). */
function signedOutElsewhere(ended) {
  blank();
  $("sign-out").hidden = true;
  if (!ended) {
    state.out = true;
    say(UNENDED_ELSEWHERE);
    return;
  }
  state.signInNote = SIGNED_OUT_ELSEWHERE;
  askSignIn();
}

function summary(systems) {
  const trouble = systems.filter((s) => severity(s) < 4);
  const line = $("summary");
  line.dataset.tone = trouble.length ? tone(trouble[0]) : "ok";
  if (!trouble.length) {
    line.textContent = `All ${systems.length} customs systems up, nothing held.`;
    return;
  }
  const parts = trouble.map((s) => `${s.system} ${statusText(s).toLowerCase()}${s.held + s.emergency
    ? `, ${s.held} held` : ""}${s.deadline?.at_risk ? ", deadline at risk" : ""}`);
  line.textContent = `${trouble.length} of ${systems.length} in trouble: ${parts.join(" · ")}`;
}

function renderSystems() {
  const now = new Date();
  const order = new Map(state.systems.map((s, index) => [s.system, index]));
  const sorted = [...state.systems].sort((a, b) => severity(a) - severity(b) || order.get(a.system) - order.get(b.system));
  const focused = document.activeElement?.closest?.("#systems tr")?.dataset.system;
  const tbody = $("systems").tBodies[0];
  tbody.replaceChildren(...sorted.map((s) => systemRow(s, now, s.system === state.opened)));
  if (focused) tbody.querySelector(`tr[data-system="${focused}"] button.open`)?.focus();
  summary(sorted);
}

// ------------------------------------------------------------------ one system opened
function heldQuery(id) {
  const token = state.heldTokens[state.heldPage];
  return `declarations?system=${id}&state=QUEUED&limit=${PAGE}${token ? `&next=${encodeURIComponent(token)}` : ""}`;
}

async function refreshDetail() {
  const id = state.opened;
  const [system, windows, held, fallback] = await Promise.all([
    api.call("GET", `systems/${id}`),
    api.call("GET", `systems/${id}/maintenance`),
    api.call("GET", heldQuery(id)),
    api.call("GET", `declarations?system=${id}&state=EMERGENCY&limit=50`),
  ]);
  if (state.opened !== id) return; // closed or another opened meanwhile
  const first = state.detail?.system !== id;
  state.detail = system;
  if (first) fillForms(system);
  if (first || state.endSourceSince !== system.since) endSource(system);
  renderDetail(system, windows.items, held, fallback.items);
}

function fillForms(system) {
  const release = $("release-form").elements;
  release.rate_per_minute.value = system.release.rate_per_minute;
  release.burst.value = system.release.burst;
  release.paused.checked = system.release.paused;
  state.whatIf = null;
  evidenceHint();
}

/** The outage is ended, by default, by whoever declared it (a CID alert ends with the end of alert). */
function endSource(system) {
  state.endSourceSince = system.since;
  $("end-form").elements.source.value = ["CID_ALERT", "SELF_TRIGGERED", "MAINTENANCE"].includes(system.source)
    ? system.source : "OPERATOR";
}

function renderDetail(system, windows, held, fallback) {
  const now = new Date();
  $("detail-title").textContent = `${system.system} — ${system.name}`;
  $("detail").dataset.tone = tone(system);
  $("detail-facts").replaceChildren(...facts(system, now));
  $("outage-form").hidden = system.status === "UNAVAILABLE";
  $("end-form").hidden = system.status === "AVAILABLE";
  renderDrain(system, now);
  rows($("held").tBodies[0], held.items, (d) => el("tr", { dataset: { lrn: d.lrn } },
    el("td", {}, d.lrn), el("td", {}, moment(d.received_at, now)),
    el("td", {}, duration((now - new Date(d.received_at)) / 1000)), el("td", {}, d.urgent ? "urgent" : ""),
    el("td", { class: "num" }, String(d.attempts))), "Nothing held.");
  if (held.next && state.heldTokens.length === state.heldPage + 1) state.heldTokens.push(held.next);
  $("held-next").disabled = !held.next;
  $("held-first").disabled = state.heldPage === 0;
  $("held-page").textContent = `page ${state.heldPage + 1}, ${PAGE} a page`;
  rows($("fallback").tBodies[0], fallback, (d) => el("tr", { dataset: { lrn: d.lrn } },
    el("td", {}, d.lrn), el("td", {}, moment(d.fallback?.established_at, now)), el("td", {}, d.fallback?.mode || ""),
    el("td", {}, el("button", { type: "button", class: "pdf", dataset: { lrn: d.lrn } }, "PDF"))),
  "No declaration in the fallback.");
  rows($("history").tBodies[0], system.history || [], (h) => el("tr", {},
    el("td", {}, moment(h.at, now)), el("td", {}, h.status), el("td", {}, [h.source, h.reference].filter(Boolean)
      .join(" · ") || "—"), el("td", {}, h.by || "—"), el("td", {}, h.reason || "—")), "No status change recorded.");
  rows($("windows").tBodies[0], windows, (w) => el("tr", {},
    el("td", {}, moment(w.start, now)), el("td", {}, moment(w.end, now)), el("td", {}, w.state),
    el("td", {}, w.reference || "—"), el("td", {}, w.reason || "—"),
    el("td", {}, [w.scheduled_by, w.changed_by && w.changed_by !== w.scheduled_by ? `changed by ${w.changed_by}` : null]
      .filter(Boolean).join(" · ") || "—")), "No maintenance window.");
}

function whatIfRate(system) {
  return state.whatIf ?? system.release.rate_per_minute;
}

function renderDrain(system, now) {
  const rate = system.release.rate_per_minute;
  const wanted = whatIfRate(system);
  const current = outlook(system, rate, now);
  const range = $("whatif-range");
  // the slider's reach: four times the current rate or twice the rate the deadline needs (type for more)
  range.max = String(Math.min(MAX_RATE, Math.max(600, rate * 4, (current.needed || 0) * 2)));
  range.value = String(wanted);
  if (state.whatIf === null) $("whatif-rate").value = String(wanted); // never what the operator typed
  state.scale = draw($("drain-chart"), system, rate, wanted, now);
  $("drain-caption").textContent = drainCaption(system, current);
  $("whatif-result").textContent = whatIfText(system, wanted, now);
  $("whatif-result").dataset.tone = outlook(system, wanted, now).meets === false ? "risk" : "ok";
  $("whatif-form").hidden = current.backlog === 0;
}

function drainCaption(system, current) {
  if (!current.backlog) return "Nothing waits: no drain.";
  const lead = `${current.backlog} to re-integrate at ${system.release.rate_per_minute}/min`;
  if (system.release.paused) return `${lead}, but the release is paused: nothing goes.`;
  if (current.holding) return `${lead} once the outage ends: ${duration(current.minutes * 60)} of drain.`;
  const deadline = current.deadline ? `; deadline ${clock(current.deadline)}` : "";
  return `${lead}: gone at ${clock(current.end, current.minutes < 30)} (in ${duration(current.minutes * 60)})${deadline}.`;
}

function whatIfText(system, rate, now) {
  const result = outlook(system, rate, now);
  const lead = `${result.holding ? "If the outage ended now, at" : "At"} ${rate}/min the backlog of ${result.backlog} `
    + `is gone at ${clock(result.end, result.minutes < 30)} (in ${duration(result.minutes * 60)})`;
  if (result.meets === null) return `${lead}.`;
  if (result.meets) return `${lead}: meets the deadline (${clock(result.deadline)}).`;
  const late = duration((result.end - result.deadline) / 1000);
  return `${lead}: misses the deadline (${clock(result.deadline)}) by ${late}`
    + `${result.needed ? `; ${result.needed}/min would meet it` : ""}.`;
}

const EVIDENCE = {
  cid_alert: 'the fallback will carry "Alerte CID"',
  da_number: "the assistance request's (DA) number: the fallback needs it",
  ticket: "the customs service desk's ticket number: the fallback needs it",
  masterticket: "the planned work's masterticket: the fallback needs it",
  be_call_number: "call number and start time, e.g. N04737-D:20250613-T170000: the fallback needs it",
  reference: "the authority's reference for this outage: the fallback needs it",
};

function evidenceHint() {
  const form = $("outage-form").elements;
  const policy = state.detail?.policy;
  const source = form.source.value;
  const kind = policy?.evidence?.[source];
  let hint = "Reference: optional.";
  if (policy && !policy.fallback_allowed) hint = "This system has no fallback procedure on record: declarations are held.";
  else if (kind) hint = `Reference: ${EVIDENCE[kind] || kind}.`;
  else if (policy) hint = `With source ${source} this system's fallback cannot be used (declarations are held).`;
  if (policy?.sends_through?.includes(source)) hint += " For this source the authority buffers: declarations keep going.";
  if (kind === "cid_alert" && !form.reference.value) form.reference.value = "Alerte CID";
  $("evidence-hint").textContent = hint;
}

// ------------------------------------------------------------------ confirmation and actions
function confirmed(title, text) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    $("confirm-ok").focus();
  });
}

async function act(title, text, method, path, body, done) {
  if (!(await confirmed(title, text))) return;
  const answer = await guarded(() => api.call(method, path, body));
  if (answer === undefined) return;
  if (answer?.system && answer.system === state.detail?.system) state.detail = { ...state.detail, ...answer };
  say(done(answer), "ok");
  await refresh();
}

function declareOutage(event) {
  event.preventDefault();
  const form = event.target.elements;
  const id = state.opened;
  const body = { status: form.status.value, source: form.source.value };
  if (form.reference.value.trim()) body.reference = form.reference.value.trim();
  if (form.reason.value.trim()) body.reason = form.reason.value.trim();
  if (form.authorised_from.value) body.authorised_from = new Date(form.authorised_from.value).toISOString();
  const kind = state.detail?.policy?.evidence?.[body.source];
  const warn = kind && kind !== "cid_alert" && !body.reference ? " Without a reference the fallback cannot be used." : "";
  const holds = body.status === "UNAVAILABLE" ? "New declarations will be held, in order, until you end it." : "";
  act(`Declare ${id} ${body.status}?`, `Source ${body.source}${body.reference ? `, reference “${body.reference}”` : ""}. `
    + holds + warn, "PUT", `systems/${id}/status`, body, (s) => `${id} is ${s.status} (${s.mode}).`);
}

function endOutage(event) {
  event.preventDefault();
  const form = event.target.elements;
  const id = state.opened;
  const system = state.detail;
  const body = { status: "AVAILABLE", source: form.source.value };
  if (form.reason.value.trim()) body.reason = form.reason.value.trim();
  const backlog = system.held + system.emergency;
  const drain = backlog ? ` ${backlog} waiting will be released oldest first at ${system.release.rate_per_minute}/min`
    + ` (about ${duration((backlog / system.release.rate_per_minute) * 60)}).` : "";
  act(`End the outage of ${id}?`, `Said by ${body.source}.${drain}`, "PUT", `systems/${id}/status`, body,
    (s) => `${id} is ${s.status} (${s.mode}).`);
}

function setRelease(rate, burst, paused) {
  const id = state.opened;
  const backlog = state.detail.held + state.detail.emergency;
  const gone = backlog && !paused ? ` The backlog of ${backlog} would take ${duration((backlog / rate) * 60)}.` : "";
  act(`Release ${id} at ${rate}/min?`, `Burst ${burst}${paused ? ", paused: nothing released" : ""}.${gone}`, "PUT",
    `systems/${id}/release`, { rate_per_minute: rate, burst, paused },
    (s) => {
      state.whatIf = null; // applied: the picture follows the current rate again
      return `${id} releases at ${s.release.rate_per_minute}/min, burst ${s.release.burst}${s.release.paused ? ", paused" : ""}.`;
    });
}

function releaseSubmitted(event) {
  event.preventDefault();
  const form = event.target.elements;
  setRelease(Number(form.rate_per_minute.value), Number(form.burst.value), form.paused.checked);
}

function whatIfSubmitted(event) {
  event.preventDefault();
  const rate = Number($("whatif-rate").value);
  if (!(rate >= 1 && rate <= MAX_RATE)) {
    say(`The what-if rate must be between 1 and ${MAX_RATE} a minute.`);
    return;
  }
  // at least a sixth of a minute's rate, as the default (ecluse.throttle), at most ten minutes' worth (the API's bound)
  const burst = Math.max(1, Math.min(Math.max(state.detail.release.burst, Math.ceil(rate / 6)), rate * 10));
  $("release-form").elements.rate_per_minute.value = rate;
  $("release-form").elements.burst.value = burst;
  setRelease(rate, burst, state.detail.release.paused);
}

function bulkFallback(event) {
  event.preventDefault();
  const form = event.target.elements;
  const id = state.opened;
  const body = { urgent_only: form.urgent_only.checked, limit: Number(form.limit.value) };
  act(`Switch ${id}'s held declarations to the fallback?`,
    `Up to ${body.limit}, oldest first${body.urgent_only ? ", urgent ones only" : ""}. They leave the queue: lodge them `
    + "by the fallback procedure; they are re-integrated when the system is back.",
    "POST", `systems/${id}/emergency`, body, (r) => {
      const refused = r.refused.length ? ` Refused ${r.refused.length}: ${r.refused.slice(0, 3)
        .map((x) => `${x.lrn} ${x.message}`).join("; ")}` : "";
      $("bulk-result").textContent = `Switched ${r.switched.length}.${refused}`;
      return `${id}: ${r.switched.length} switched to the fallback.${refused}`;
    });
}

function pdf(lrn) {
  if (lrn) guarded(() => api.downloadFallbackPdf(lrn));
}

// ------------------------------------------------------------------ opening, closing, wiring
function open(id) {
  if (!id) return;
  state.opened = id;
  state.detail = null;
  state.heldTokens = [null];
  state.heldPage = 0;
  history.replaceState(null, "", `#${id}`);
  $("detail").hidden = false;
  renderSystems();
  refresh().then(() => {
    $("detail").scrollIntoView({ block: "start" });
    $("detail-title").focus({ preventScroll: true });
  });
}

function close() {
  const was = state.opened;
  state.opened = null;
  state.detail = null;
  $("detail").hidden = true;
  history.replaceState(null, "", location.pathname + location.search);
  renderSystems();
  $("systems").querySelector(`tr[data-system="${was}"] button.open`)?.focus();
}

function moveWhatIf(rate, typed = false) {
  state.whatIf = Math.min(MAX_RATE, Math.max(1, Math.round(rate) || 1));
  if (!typed) $("whatif-rate").value = String(state.whatIf);
  if (state.detail) renderDrain(state.detail, new Date());
}

function wireDrain() {
  const chart = $("drain-chart");
  $("whatif-range").addEventListener("input", (e) => moveWhatIf(Number(e.target.value)));
  $("whatif-rate").addEventListener("input", (e) => {
    if (e.target.value) moveWhatIf(Number(e.target.value), true);
    else state.whatIf = state.whatIf ?? state.detail?.release.rate_per_minute ?? null; // emptied: left alone
  });
  $("whatif-form").addEventListener("submit", whatIfSubmitted);
  chart.addEventListener("pointerdown", (e) => {
    if (!state.scale) return;
    state.dragging = true;
    chart.setPointerCapture(e.pointerId);
    moveWhatIf(rateAt(chart, state.scale, e.clientX, state.detail.held + state.detail.emergency));
  });
  chart.addEventListener("pointermove", (e) => {
    if (state.dragging && state.scale) {
      moveWhatIf(rateAt(chart, state.scale, e.clientX, state.detail.held + state.detail.emergency));
    }
  });
  chart.addEventListener("pointerup", () => { state.dragging = false; });
}

function wire() {
  $("systems").addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-system]");
    if (row) open(row.dataset.system);
  });
  $("close-detail").addEventListener("click", close);
  $("refresh-now").addEventListener("click", refresh);
  $("outage-form").addEventListener("submit", declareOutage);
  $("outage-form").elements.source.addEventListener("change", evidenceHint);
  $("end-form").addEventListener("submit", endOutage);
  $("release-form").addEventListener("submit", releaseSubmitted);
  $("bulk-form").addEventListener("submit", bulkFallback);
  $("pdf-form").addEventListener("submit", (e) => { e.preventDefault(); pdf(e.target.elements.lrn.value.trim()); });
  $("fallback").addEventListener("click", (e) => pdf(e.target.closest("button.pdf")?.dataset.lrn));
  $("held-next").addEventListener("click", () => { state.heldPage += 1; refresh(); });
  $("held-first").addEventListener("click", () => { state.heldPage = 0; state.heldTokens = [null]; refresh(); });
  $("sign-out").addEventListener("click", async () => {
    clearTimeout(state.timer); // no refresh renews the token being revoked
    const next = await api.signOut();
    if (next === "away") return; // pkce: off to the pool's /logout, which comes back here
    if (next === "unended") {
      state.out = true;
      blank();
      $("sign-out").hidden = false; // to sign out again, which revokes and ends the session then
      say(UNENDED);
      return;
    }
    refresh();
  });
  api.onSignOutElsewhere(signedOutElsewhere);
  $("sign-in-start").addEventListener("click", () => guarded(api.startSignIn));
  $("sign-in-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target.elements;
    if (await guarded(() => api.signIn(form.client_id.value.trim(), form.client_secret.value)) === undefined) return;
    form.client_secret.value = "";
    state.signInNote = null;
    $("sign-in").hidden = true;
    say("");
    refresh();
  });
  window.addEventListener("hashchange", () => {
    const id = location.hash.slice(1);
    if (/^[A-Z0-9_]+$/.test(id) && id !== state.opened) open(id);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("detail").hidden && !$("confirm").open) close();
  });
  wireDrain();
}

wire();
try {
  await api.finishSignIn(); // back from the hosted UI with a code: exchanged before the first call
} catch (error) {
  state.signInProblem = error instanceof api.ApiError ? explain(error) : `sign-in failed (${error.message})`;
  if (api.token()) say(state.signInProblem); // still signed in from before: say it all the same
}
const wanted = location.hash.slice(1);
if (/^[A-Z0-9_]+$/.test(wanted)) open(wanted);
else refresh();
