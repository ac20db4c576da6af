// The page's own script: it compiles the engine, shows the screens the engine renders, sends
// it the forms, and keeps the attempt in localStorage. Grading and every decision are the
// engine's (the course's quiz crate). Runs after wasm-bindgen's glue, in the same module.
const root = document.getElementById("quiz");
const screen = document.getElementById("screen");
const storageKey = "wasm-course-quiz:" + QUIZ.name;

function kept() {
  try {
    return localStorage.getItem(storageKey);
  } catch {
    return null; // storage may be off; the quiz still runs, without resuming
  }
}

function keep(value) {
  try {
    localStorage.setItem(storageKey, value);
  } catch {}
}

function engineBytes() {
  const text = globalThis.QUIZ_ENGINE_WASM;
  if (typeof text !== "string") {
    throw new Error("quiz-engine.js did not load; keep it beside this page");
  }
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

let page;
try {
  initSync({ module: await WebAssembly.compile(engineBytes()) });
  page = new QuizPage(QUIZ.name, QUIZ.source, kept());
} catch (error) {
  root.dataset.stage = "error";
  screen.innerHTML = '<h2 id="heading" tabindex="-1">This quiz could not be loaded</h2><pre class="diagnostics"></pre>';
  screen.querySelector("pre").textContent = error && error.message ? error.message : String(error);
  throw error;
}

const exportPanel = document.getElementById("export");

// In a course book's <iframe>, the book can size the frame to the page (docs/quiz-web.md).
function tellHeight() {
  if (window.parent !== window) {
    const height = document.documentElement.scrollHeight;
    window.parent.postMessage({ wasmCourseQuiz: QUIZ.name, height }, "*");
  }
}

function show(focus) {
  screen.innerHTML = page.screen();
  root.dataset.stage = page.stage();
  keep(page.saved());
  exportPanel.hidden = true;
  if (focus) screen.querySelector("#heading")?.focus();
  tellHeight();
}

new ResizeObserver(tellHeight).observe(document.body);

screen.addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const fields = [...new FormData(form)].map(([name, value]) => [name, String(value)]);
  const problem = page.submit(JSON.stringify(fields));
  if (problem) {
    const { message, field } = JSON.parse(problem);
    form.querySelector("#message").textContent = message;
    for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
    const control = field && form.querySelector(`[name="${field}"]`);
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
    return;
  }
  show(true);
});

root.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  switch (button.dataset.action) {
    case "retry":
      page.retry();
      return show(true);
    case "give-up":
      page.giveUp();
      return show(true);
    case "restart":
      page.restart();
      return show(true);
    case "export": {
      const text = page.export();
      const area = document.getElementById("export-text");
      area.value = text;
      const link = document.getElementById("export-download");
      if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
      link.href = URL.createObjectURL(new Blob([text], { type: "application/toml" }));
      exportPanel.hidden = false;
      area.focus();
      return;
    }
  }
});

show(false);
globalThis.quizReadyAt = performance.now();
