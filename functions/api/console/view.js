// Formatting and the rows of the page. Text only: data never becomes markup (textContent, not HTML).

export function el(tag, attributes = {}, ...children) {
  const made = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(made.dataset, value);
    else made.setAttribute(key, value === true ? "" : value);
  }
  made.append(...children.filter((child) => child !== null && child !== undefined));
  return made;
}

const pad = (n) => String(n).padStart(2, "0");

/** A moment as the operator reads it: the time today, the day and time otherwise (the browser's zone). */
export function clock(date, seconds = false) {
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}${seconds ? `:${pad(date.getSeconds())}` : ""}`;
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return time;
  const days = Math.abs(date - today) / 86400e3;
  const day = date.toLocaleDateString(undefined, days < 6 ? { weekday: "short" } : { day: "numeric", month: "short" });
  return `${day} ${time}`;
}

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${pad(minutes % 60)}`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** "14:02 · 2 h 13 ago" or "15:40 · in 38 min", with the exact ISO time as the tooltip. */
export function moment(iso, now) {
  if (!iso) return el("span", { class: "none" }, "—");
  const at = new Date(iso);
  const seconds = (at - now) / 1000;
  const relative = seconds >= 0 ? `in ${duration(seconds)}` : `${duration(-seconds)} ago`;
  return el("time", { datetime: iso, title: iso }, clock(at), el("small", {}, relative));
}

/** 0 is the worst: the deadline at risk, then holding, draining, degraded, paused with a backlog, fine. */
export function severity(system) {
  if (system.deadline?.at_risk) return 0;
  if (system.mode === "HOLDING") return 1;
  if (system.mode === "DRAINING") return 2;
  if (system.status !== "AVAILABLE") return 3;
  return 4;
}

const TONE = ["risk", "down", "draining", "degraded", "ok"];
const LABEL = {
  HOLDING: "Down · holding",
  DRAINING: "Up · draining",
  NORMAL: "Up",
};

export function tone(system) {
  return TONE[severity(system)];
}

export function statusText(system) {
  if (system.status === "DEGRADED") return system.mode === "DRAINING" ? "Degraded · draining" : "Degraded";
  if (system.status === "UNAVAILABLE" && system.mode !== "HOLDING") return "Unavailable · sent through";
  return LABEL[system.mode] || system.status;
}

export function sourceText(system) {
  if (!system.source) return "—";
  return [system.source, system.reference].filter(Boolean).join(" · ");
}

function risk(system) {
  if (system.deadline?.at_risk) {
    const needed = system.deadline.rate_to_meet_deadline;
    return el("span", { class: "badge risk" }, needed ? `AT RISK · needs ${needed}/min` : "AT RISK · past the deadline");
  }
  if (system.release.paused && system.held + system.emergency > 0) return el("span", { class: "badge paused" }, "paused");
  return el("span", { class: "none" }, "—");
}

function releaseText(system) {
  const { rate_per_minute: rate, burst, paused } = system.release;
  return `${rate}/min · ${burst}${paused ? " · paused" : ""}`;
}

function cell(field, label, content) {
  const empty = content instanceof Element && content.classList.contains("none");
  return el("td", { dataset: { field }, "data-label": label, "data-empty": empty }, content);
}

export function systemRow(system, now, opened) {
  const open = el("button", { type: "button", class: "open", "aria-expanded": String(opened),
    "aria-controls": "detail", title: `open ${system.system}` }, system.system);
  const drainEnd = system.projected_drain_end
    ? moment(system.projected_drain_end, now)
    : el("span", { class: "none" }, system.mode === "HOLDING" && system.held ? "when it is back" : "—");
  return el("tr", { dataset: { system: system.system, tone: tone(system) }, class: opened ? "opened" : null },
    el("th", { scope: "row", dataset: { field: "system" } }, open, el("small", {}, system.name)),
    cell("status", "Status", el("span", { class: `pill ${tone(system)}`, dataset: { status: system.status } },
      statusText(system))),
    cell("since", "Since", moment(system.since, now)),
    cell("source", "Source", sourceText(system)),
    cell("held", "Held", String(system.held)),
    cell("emergency", "Emergency", String(system.emergency)),
    cell("released", "Released /min", String(system.released_last_minute)),
    cell("release", "Rate · burst", releaseText(system)),
    cell("deadline", "Deadline", moment(system.reintegration_deadline, now)),
    cell("drain-end", "Drain ends", drainEnd),
    cell("risk", "Risk", risk(system)),
  );
}

/** The opened system's figures, as a definition list. */
export function facts(system, now) {
  const pairs = [
    ["Status", `${system.status} · ${system.mode}`],
    ["Since", moment(system.since, now)],
    ["Source · reference", sourceText(system)],
    ["Reason", system.reason || "—"],
    ["Fallback authorised from", moment(system.authorised_from, now)],
    ["Held", `${system.held}${system.oldest_held_age_seconds != null
      ? ` · oldest waiting ${duration(system.oldest_held_age_seconds)}` : ""}`],
    ["Emergency (fallback, to re-integrate)", String(system.emergency)],
    ["Released in the last minute", String(system.released_last_minute)],
    ["Rate · burst", releaseText(system)],
    ["Outage ended", moment(system.outage_ended_at, now)],
    ["Re-integration deadline", moment(system.reintegration_deadline, now)],
    ["Drain ends", moment(system.projected_drain_end, now)],
    ["Risk", risk(system)],
  ];
  return pairs.map(([term, value]) => el("div", {}, el("dt", {}, term), el("dd", {}, value)));
}

export function rows(tbody, items, render, empty) {
  tbody.replaceChildren(...(items.length ? items.map(render)
    : [el("tr", {}, el("td", { colspan: tbody.parentElement.tHead.rows[0].cells.length, class: "none" }, empty))]));
}
