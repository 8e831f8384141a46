// The drain as a picture: the backlog from now to its end at the current rate and at a what-if rate,
// against the re-integration deadline. The arithmetic is the API's (ecluse.drain.outlook): the backlog
// (held + emergency) goes at `rate` per minute; the rate that meets the deadline is
// ceil(backlog / minutes left).

import { clock, duration } from "./view.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 720, H = 240, LEFT = 56, RIGHT = 20, TOP = 18, BOTTOM = 40;
export const MAX_RATE = 6000; // the API's bound (ReleaseConfig)

/** What a rate would give: when the backlog is gone, the deadline, whether it is met, the rate needed. */
export function outlook(system, rate, now) {
  const backlog = system.held + system.emergency;
  const holding = system.mode === "HOLDING";
  let deadline = system.reintegration_deadline ? new Date(system.reintegration_deadline) : null;
  const hours = system.policy?.reintegration_hours;
  const hypothetical = !deadline && holding && hours != null;
  if (hypothetical) deadline = new Date(now.getTime() + hours * 3600e3); // if the outage ended now
  const minutes = rate > 0 ? backlog / rate : Infinity;
  const end = new Date(now.getTime() + minutes * 60e3);
  const minutesLeft = deadline ? (deadline - now) / 60e3 : null;
  const needed = deadline && backlog > 0 && minutesLeft > 0 ? Math.ceil(backlog / minutesLeft) : null;
  return {
    backlog, holding, deadline, hypothetical, minutes, end, minutesLeft, needed,
    meets: deadline && backlog > 0 ? end <= deadline : null,
  };
}

function node(name, attributes, text) {
  const made = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) made.setAttribute(key, value);
  if (text !== undefined) made.textContent = text;
  return made;
}

/** Draw into `svg`; returns the scale (minutes per x unit) the drag handler needs. */
export function draw(svg, system, currentRate, whatIfRate, now) {
  svg.replaceChildren();
  const current = outlook(system, currentRate, now);
  const whatIf = outlook(system, whatIfRate, now);
  const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
  if (current.backlog === 0) {
    svg.append(node("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" },
      "No backlog: nothing waits for this system."));
    return null;
  }
  const paused = system.release.paused;
  let span = Math.max(paused ? 0 : current.minutes, whatIf.minutes) * 1.15 || 1;
  const deadlineInside = current.minutesLeft != null && current.minutesLeft <= span * 3;
  if (deadlineInside) span = Math.max(span, current.minutesLeft * 1.08);
  const x = (minutes) => LEFT + Math.min(minutes / span, 1) * plotW;
  const y = (count) => TOP + plotH - (count / current.backlog) * plotH;

  // axes and ticks: the x axis in clock time from now (or from the outage's end, if it ended now)
  svg.append(node("line", { x1: LEFT, y1: TOP + plotH, x2: LEFT + plotW, y2: TOP + plotH, class: "axis" }));
  svg.append(node("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: TOP + plotH, class: "axis" }));
  for (const share of [0, 0.5, 1]) {
    const at = new Date(now.getTime() + share * span * 60e3);
    const label = share === 0 ? (current.holding ? "if it ended now" : "now") : clock(at, span < 30);
    svg.append(node("text", { x: x(share * span), y: H - 18, "text-anchor": share ? (share === 1 ? "end" : "middle")
      : "start", class: "tick" }, label));
  }
  for (const share of [0, 0.5, 1]) {
    svg.append(node("text", { x: LEFT - 6, y: y(share * current.backlog) + 4, "text-anchor": "end", class: "tick" },
      String(Math.round(share * current.backlog))));
  }
  svg.append(node("text", { x: LEFT + 4, y: TOP - 4, class: "tick" }, "backlog"));

  // the deadline: a line where it falls in the picture, an arrow at the edge when it is further
  if (current.deadline) {
    const label = `deadline ${clock(current.deadline)}${current.hypothetical ? " (if it ended now)" : ""}`;
    if (deadlineInside) {
      const at = x(current.minutesLeft);
      svg.append(node("line", { x1: at, y1: TOP, x2: at, y2: TOP + plotH, class: "deadline" }));
      svg.append(node("text", { x: at - 4, y: TOP + 12, "text-anchor": "end", class: "deadline-label" }, label));
    } else {
      svg.append(node("text", { x: LEFT + plotW, y: TOP + 12, "text-anchor": "end", class: "deadline-label" },
        `${label}, in ${duration(current.minutesLeft * 60)} →`));
    }
  }

  // the current rate (solid, filled) and the what-if (dashed)
  if (!paused) {
    const end = x(current.minutes);
    svg.append(node("path", { d: `M${LEFT},${y(current.backlog)} L${end},${y(0)} L${LEFT},${y(0)} Z`,
      class: "area" }));
    svg.append(node("path", { d: `M${LEFT},${y(current.backlog)} L${end},${y(0)}`, class: "current" }));
    svg.append(node("circle", { cx: end, cy: y(0), r: 4, class: "current-end" }));
  } else {
    svg.append(node("path", { d: `M${LEFT},${y(current.backlog)} L${LEFT + plotW},${y(current.backlog)}`,
      class: "current" }));
  }
  const whatIfEnd = x(whatIf.minutes);
  const tone = whatIf.meets === false ? "misses" : "meets";
  svg.append(node("path", { d: `M${LEFT},${y(whatIf.backlog)} L${whatIfEnd},${y(0)}`, class: `whatif ${tone}` }));
  svg.append(node("circle", { cx: whatIfEnd, cy: y(0), r: 6, class: `handle ${tone}` }));
  svg.append(node("text", { x: Math.min(whatIfEnd + 4, W - RIGHT), y: y(0) - 8,
    "text-anchor": whatIfEnd > W * 0.7 ? "end" : "start", class: `end-label ${tone}` },
  `${whatIfRate}/min: ends ${clock(whatIf.end, span < 30)}`));
  return { span, left: LEFT, width: plotW };
}

/** The rate whose drain ends where the pointer is on the picture (dragging the end). */
export function rateAt(svg, scale, clientX, backlog) {
  const point = svg.createSVGPoint();
  point.x = clientX;
  point.y = 0;
  const local = point.matrixTransform(svg.getScreenCTM().inverse());
  const minutes = Math.max(((local.x - scale.left) / scale.width) * scale.span, 1 / 60);
  return Math.min(MAX_RATE, Math.max(1, Math.ceil(backlog / minutes)));
}
