// Staff accounts on the admin page: list, create, rename, change role, disable, reset the
// password, over /api/admin/staff (docs/admin.md). admin.js calls initStaff() once signed in.

const $ = (id) => document.getElementById(id);
const ROLES = { agent: "Agent", supervisor: "Supervisor", trainer: "Trainer", admin: "Admin" };
const state = { staff: [], editing: null, ready: false };

async function send(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    const res = await fetch(path, init);
    return { ok: res.ok, status: res.status, data: await res.json() };
  } catch (err) {
    return { ok: false, status: 0, data: { error: { message: "Cannot reach the server." } } };
  }
}

function say(text, isError = false) {
  const box = $("staff-form-status");
  box.textContent = text;
  box.classList.toggle("error", isError);
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function render() {
  const body = $("staff-table").tBodies[0];
  body.replaceChildren(...state.staff.map((s) => {
    const tr = document.createElement("tr");
    const edit = document.createElement("button");
    edit.type = "button";
    edit.textContent = "Edit";
    edit.setAttribute("aria-label", `Edit account ${s.username}`);
    edit.addEventListener("click", () => {
      fill(s);
      $("staff-display").focus();
    });
    const actions = document.createElement("td");
    actions.className = "actions-cell";
    actions.append(edit);
    tr.append(cell(s.username), cell(s.display_name), cell(ROLES[s.role] || s.role),
      cell(s.disabled ? "Disabled" : "Active"), actions);
    return tr;
  }));
}

function fill(account) {
  state.editing = account ? account.id : null;
  $("staff-form-title").textContent = account ? `Edit account ${account.username}` : "New staff account";
  $("staff-username").value = account ? account.username : "";
  $("staff-username").readOnly = Boolean(account);
  $("staff-display").value = account ? account.display_name : "";
  $("staff-role").value = account ? account.role : "agent";
  $("staff-password").value = "";
  $("staff-password").required = !account;
  $("staff-disabled").checked = account ? account.disabled : false;
  $("staff-disabled").disabled = !account;
  for (const el of $("staff-form").querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  say("");
}

async function load() {
  const res = await send("GET", "/api/admin/staff");
  if (res.ok) {
    state.staff = res.data.staff;
    render();
  }
}

function showRefusal(error) {
  say(error.message, true);
  const field = error.field && $("staff-form").querySelector(`[data-field="${error.field.split(".")[0]}"]`);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

async function save(event) {
  event.preventDefault();
  const password = $("staff-password").value;
  let res;
  say("Saving…");
  if (state.editing === null) {
    res = await send("POST", "/api/admin/staff", {
      username: $("staff-username").value.trim(),
      display_name: $("staff-display").value.trim(),
      role: $("staff-role").value,
      password,
    });
  } else {
    const change = {
      display_name: $("staff-display").value.trim(),
      role: $("staff-role").value,
      disabled: $("staff-disabled").checked,
    };
    if (password) change.password = password;
    res = await send("PATCH", `/api/admin/staff/${state.editing}`, change);
  }
  if (!res.ok) {
    showRefusal(res.data.error);
    return;
  }
  await load();
  const created = res.status === 201;
  fill(state.staff.find((s) => s.id === res.data.id));
  say(`Account ${res.data.username} ${created ? "created" : "saved"}.`);
}

export function initStaff() {
  if (!state.ready) {
    state.ready = true;
    $("staff-form").addEventListener("submit", save);
    $("staff-new").addEventListener("click", () => {
      fill(null);
      $("staff-username").focus();
    });
  }
  fill(null);
  load();
}
