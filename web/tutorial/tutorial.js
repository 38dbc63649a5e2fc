// One tutorial on a page of its own: its stable link /tutorials/{id} (staff, the published
// version) or its public link /p/{token} (anyone, until the trainer revokes it). The links in
// QR codes printed in manuals lead here.
import { LANGUAGES, pickLanguage, setLanguage, t } from "/static/shared/i18n.js";
import { showMessage } from "/static/shared/signaling.js";
import { TutorialPlayer } from "/static/shared/tutorial-player.js";
import { logIn } from "/static/shared/session.js";

const $ = (id) => document.getElementById(id);
const player = new TutorialPlayer({ container: $("tutorial"), standalone: true });
window.videoassist = { get player() { return player; } };

function source() {
  const [, kind, key] = location.pathname.split("/");
  const safe = encodeURIComponent(decodeURIComponent(key || ""));
  return kind === "p" ? `/api/public/tutorials/${safe}` : `/api/tutorials/${safe}`;
}

async function load() {
  const res = await fetch(source(), { credentials: "same-origin" });
  const data = await res.json().catch(() => null);
  if (res.status === 401) {
    $("login").hidden = false;
    $("username").focus();
    return;
  }
  const tutorial = res.ok ? (data.published ?? (data.media ? data : null)) : null;
  if (!tutorial) {
    showMessage($("message"), t("tutorial.page.gone"), true);
    return;
  }
  $("login").hidden = true;
  document.title = tutorial.title;
  player.open({
    id: tutorial.id,
    title: tutorial.title,
    chapters: tutorial.chapters,
    url: tutorial.media?.webm || tutorial.media?.mp4 || "",
    poster: tutorial.poster_image || null,
    start: 0,
  });
  $("description").textContent = tutorial.description || "";
  if (!tutorial.media?.webm && !tutorial.media?.mp4) showMessage($("message"), t("tutorial.page.no_video"), true);
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { ok } = await logIn($("username").value, $("password").value);
  $("password").value = "";
  if (!ok) {
    showMessage($("message"), t("trainer.login_failed"), true);
    return;
  }
  showMessage($("message"), "");
  load();
});

const select = $("language");
select.replaceChildren(...Object.entries(LANGUAGES).map(([code, { name }]) => {
  const option = document.createElement("option");
  option.value = code;
  option.textContent = name;
  option.lang = code;
  return option;
}));
select.value = pickLanguage();
setLanguage(select.value);
select.addEventListener("change", () => setLanguage(select.value, { remember: true }));
load();
