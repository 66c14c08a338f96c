// The review page's one script (no inline code: the CSP allows scripts from this origin only).
// Forms marked data-async are sent with fetch, and the answer is shown next to them without a reload.
// Every message is set as text, never as HTML.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function showResult(target, kind, text, notes) {
  target.className = "result " + kind;
  target.textContent = text;
  for (const note of notes || []) {
    const line = document.createElement("span");
    line.className = "note";
    line.textContent = note;
    target.appendChild(line);
  }
}

// The bulk form says how many clean pending items it will approve, and the server checks that number:
// an item decided on this page leaves that set.
function leaveBulkSet() {
  const expected = document.querySelector("[data-bulk-expected]");
  if (!expected) {
    return;
  }
  const left = Math.max(0, Number(expected.value) - 1);
  expected.value = String(left);
  document.querySelector("[data-bulk-count]").textContent = String(left);
  document.getElementById("bulk-approve").disabled = left === 0;
}

function markDecided(recommendationId, status) {
  const article = document.getElementById("item-" + recommendationId);
  if (!article) {
    return;
  }
  if (article.dataset.review === "pending" && article.dataset.guardrail === "pass") {
    leaveBulkSet();
  }
  article.dataset.review = status;
  article.classList.remove("pending", "approved", "rejected", "overridden");
  article.classList.add(status);
  const badge = article.querySelector("[data-review-status]");
  if (badge) {
    badge.textContent = status;
    badge.className = "badge review " + status;
  }
}

async function submitAsync(event) {
  const form = event.currentTarget;
  event.preventDefault();
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    return;
  }
  const scope = form.closest("article") || form;
  const target = scope.querySelector("[data-result]");
  const buttons = form.querySelectorAll("button");
  buttons.forEach((button) => { button.disabled = true; });
  showResult(target, "busy", "Sending…");
  let done = false;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() },
      credentials: "same-origin",
    });
    const answer = await response.json();
    if (answer.ok) {
      showResult(target, "ok", answer.message, answer.notes);
      for (const id of answer.recommendation_ids) {
        markDecided(id, answer.status);
      }
      done = form.classList.contains("bulk"); // its items are decided: nothing left to send
    } else {
      showResult(target, response.status === 503 ? "busy" : "error", answer.error);
    }
  } catch (error) {
    showResult(target, "error", "No answer from the review server: " + error.message);
  } finally {
    buttons.forEach((button) => { button.disabled = done; });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-async]").forEach((form) => {
    form.addEventListener("submit", submitAsync);
  });
});
