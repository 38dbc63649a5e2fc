// Branding on the admin page: the operator's name, accent colour and logo that the customer
// page shows (PUT /api/admin/branding, /api/admin/branding/logo; docs/admin.md). The server
// refuses an accent under 4.5:1 against white text and says its ratio; the page shows that.

const $ = (id) => document.getElementById(id);
let ready = false;

function say(text, isError = false) {
  const box = $("branding-status");
  box.textContent = text;
  box.classList.toggle("error", isError);
}

async function answer(res) {
  try {
    return await res.json();
  } catch (err) {
    return { error: { message: `The server answered ${res.status}.` } };
  }
}

function show(brand) {
  $("brand-name-input").value = brand.name || "";
  $("brand-accent").value = brand.accent || "";
  const preview = $("logo-preview");
  preview.hidden = !brand.logo_url;
  if (brand.logo_url) preview.src = brand.logo_url;
  else preview.removeAttribute("src");
  $("logo-remove").disabled = !brand.logo_url;
}

async function load() {
  try {
    const res = await fetch("/api/branding");
    if (res.ok) show(await res.json());
  } catch (err) {
    say("Cannot reach the server.", true);
  }
}

async function send(method, path, body, type) {
  try {
    const res = await fetch(path, { method, headers: type ? { "Content-Type": type } : {}, body });
    const data = await answer(res);
    if (!res.ok) {
      say(data.error.message, true);
      return false;
    }
    show(data);
    return true;
  } catch (err) {
    say("Cannot reach the server.", true);
    return false;
  }
}

async function saveNameAndColour(event) {
  event.preventDefault();
  const accent = $("brand-accent").value.trim();
  const body = JSON.stringify({ name: $("brand-name-input").value, accent: accent || null });
  const accentInput = $("brand-accent");
  accentInput.removeAttribute("aria-invalid");
  if (await send("PUT", "/api/admin/branding", body, "application/json")) {
    say("Name and colour saved.");
  } else {
    accentInput.setAttribute("aria-invalid", "true");
    accentInput.focus();
  }
}

async function uploadLogo(event) {
  event.preventDefault();
  const file = $("logo-file").files[0];
  if (!file) {
    say("Choose an image first.", true);
    $("logo-file").focus();
    return;
  }
  if (await send("PUT", "/api/admin/branding/logo", file, file.type || "application/octet-stream")) {
    $("logo-file").value = "";
    say("Logo uploaded.");
  }
}

async function removeLogo() {
  if (await send("DELETE", "/api/admin/branding/logo")) {
    say("Logo removed.");
    $("logo-file").focus();
  }
}

export function initBranding() {
  if (!ready) {
    ready = true;
    $("branding-form").addEventListener("submit", saveNameAndColour);
    $("logo-form").addEventListener("submit", uploadLogo);
    $("logo-remove").addEventListener("click", removeLogo);
  }
  load();
}
